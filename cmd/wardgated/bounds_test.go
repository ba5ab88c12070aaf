package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wardgate/wardgate/internal/netlimit"
)

// holdConns opens n connections from src to addr and keeps them.
func holdConns(t *testing.T, src, addr string, n int) []net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s from %s: %v", addr, src, err)
		}
		conns = append(conns, c)
	}
	return conns
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// closedSoon reports whether the server closes c within d (a read ends
// other than by timeout).
func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// A half-open flood from one host past the per-source cap is refused at
// once on the records intake, metrics and the report API of a real
// wardgated, while another host is still served; and running the daemon
// out of file descriptors (EMFILE at accept) does not stop it.
func TestListenersBounded(t *testing.T) {
	dir, base := consortium(t, "a,b", "")
	port := func(off int) string { return "127.0.0.1:" + strconv.Itoa(base+off) }
	a := startBox(t, dir, "a")
	a.waitReady(t)
	for name, off := range map[string]int{"records LAN": 2, "metrics": 3, "report API": 6} {
		flood := holdConns(t, "127.0.0.1", port(off), netlimit.DefaultMaxConnsPerSource)
		extra := holdConns(t, "127.0.0.1", port(off), 1)[0]
		if !closedSoon(extra, 2*time.Second) {
			t.Errorf("%s: connection past the per-source cap of %d not refused", name, netlimit.DefaultMaxConnsPerSource)
		}
		other := holdConns(t, "127.0.0.2", port(off), 1)[0]
		if closedSoon(other, 300*time.Millisecond) {
			t.Errorf("%s: another host refused during the flood", name)
		}
		other.Close()
		extra.Close()
		closeAll(flood)
	}

	// EMFILE: cap a's descriptors just above what it has open, flood it,
	// then let go; a keeps running and serves again.
	pid := a.cmd.Process.Pid
	var fds []os.DirEntry
	eventually(t, "a closed the flood's connections", func() (bool, string) {
		var err error
		fds, err = os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		return err == nil && len(fds) < 200, fmt.Sprint(len(fds), err)
	})
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Fatal(err)
	}
	tight := unix.Rlimit{Cur: uint64(len(fds) + 8), Max: old.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &tight, nil); err != nil {
		t.Fatal(err)
	}
	var flood []net.Conn
	for _, off := range []int{2, 3, 6} {
		flood = append(flood, holdConns(t, "127.0.0.1", port(off), 40)...)
	}
	time.Sleep(time.Second) // the listeners hit EMFILE and back off
	quick := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := quick.Get("http://" + port(3) + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatalf("metrics answered %s with a out of descriptors: the flood did not reach EMFILE", resp.Status)
	}
	closeAll(flood)
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		a.done <- err
		t.Fatalf("a exited after EMFILE: %v", err)
	default:
	}
	eventually(t, "metrics served after EMFILE", func() (bool, string) {
		resp, err := http.Get("http://" + port(3) + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	if code, body, err := sendRecord(dir, port(2), "b", []byte(`{"resourceType":"Patient","id":"after-emfile"}`)); err != nil || code == 0 {
		t.Fatalf("records intake after EMFILE: %d %s %v", code, body, err)
	}
}
