// Package audittest runs a real syslog receiver for tests: rsyslogd from
// Debian (packages rsyslog and rsyslog-gnutls, installed by `make deps`)
// on loopback, taking RFC 5425 syslog over TLS only, with a test CA.
package audittest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/testutil"
)

// Rsyslog is a real rsyslogd from Debian (packages rsyslog and
// rsyslog-gnutls, installed by `make deps`) on loopback, taking RFC 5425
// syslog over TLS only (gtls stream driver, mode 1) with a test CA, and
// writing each message it receives, raw, as one line of a file.
type Rsyslog struct {
	t      testing.TB
	dir    string
	port   int
	out    string
	cmd    *exec.Cmd
	exited chan struct{}
	// CAFile is the test CA that issued the receiver's certificate.
	CAFile  string
	running bool
}

const rsyslogBin = "/usr/sbin/rsyslogd"

func StartRsyslog(t testing.TB) *Rsyslog {
	t.Helper()
	if _, err := os.Stat(rsyslogBin); err != nil {
		t.Fatalf("rsyslogd is not installed (%v): run `make deps` as root (Debian packages rsyslog, rsyslog-gnutls)", err)
	}
	dir := t.TempDir()
	r := &Rsyslog{t: t, dir: dir, port: testutil.FreePort(t), out: filepath.Join(dir, "received.log")}
	r.CAFile = WriteTestPKI(t, dir)
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile=%q
  DefaultNetstreamDriverCertFile=%q
  DefaultNetstreamDriverKeyFile=%q)
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="%d" address="127.0.0.1")
template(name="raw" type="string" string="%%rawmsg%%\n")
action(type="omfile" file=%q template="raw")
`, dir, r.CAFile, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"), r.port, r.out)
	if err := os.WriteFile(filepath.Join(dir, "rsyslog.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start runs rsyslogd in the foreground and waits until it listens.
func (r *Rsyslog) Start() {
	t := r.t
	t.Helper()
	r.cmd = exec.Command(rsyslogBin, "-n", "-f", filepath.Join(r.dir, "rsyslog.conf"), "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	var logb bytes.Buffer
	r.cmd.Stdout, r.cmd.Stderr = &logb, &logb
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting rsyslogd: %v", err)
	}
	r.exited = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.exited) }()
	r.running = true
	testutil.WaitFor(t, "rsyslogd listening", func() bool {
		select {
		case <-r.exited:
			t.Fatalf("rsyslogd exited: %s", logb.String())
		default:
		}
		c, err := net.Dial("tcp", r.Addr())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Stop ends rsyslogd (the receiver outage) and waits for it.
func (r *Rsyslog) Stop() {
	if !r.running {
		return
	}
	r.running = false
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// Addr is the receiver's host:port.
func (r *Rsyslog) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// Lines is what rsyslogd has written so far, one message a line.
func (r *Rsyslog) Lines() []string {
	b, err := os.ReadFile(r.out)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

// WriteTestPKI writes a CA and a server certificate for 127.0.0.1 into
// dir, and returns the CA file.
func WriteTestPKI(t testing.TB, dir string) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "audit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", srvDER)
	write("server.key", "EC PRIVATE KEY", keyDER)
	return filepath.Join(dir, "ca.pem")
}
