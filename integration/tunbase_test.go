package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/wardgate/wardgate/integration/cluster"
)

// inNetNS runs f on a thread in the named network namespace: sockets f
// makes belong to it for good. The thread goes back to this process's
// namespace after; if that fails it is left locked, so the runtime retires
// it instead of reusing it elsewhere.
func inNetNS(name string, f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns %s: %w", name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("leaving netns %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// tunnelBaseline is the plain-tunnel baseline of the tun-mode daemons: an
// HTTP endpoint in b's namespace on b's tunnel address, and a client whose
// connections start in a's namespace. Its requests cross the same kernel
// TUN devices and the same WireGuard tunnel (a's and b's wardgated) as
// wardgate's records, without the relay: no signing, journaling, second
// hop to the EHR or receipts.
type tunnelBaseline struct {
	url    string
	client *http.Client
}

func newTunnelBaseline(tb testing.TB, A, B *cluster.Box) *tunnelBaseline {
	tb.Helper()
	var ln net.Listener
	if err := inNetNS(B.NetNS, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(B.TunnelIP.String(), "0"))
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	dial := func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = inNetNS(A.NetNS, func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024, DisableCompression: true}}
	tb.Cleanup(client.CloseIdleConnections)
	return &tunnelBaseline{url: "http://" + ln.Addr().String() + "/fhir/Observation", client: client}
}

// post sends recs[0] as the hospital's EHR would, straight through the
// tunnel.
func (t *tunnelBaseline) post(ctx context.Context, recs [][]byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(recs[0]))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("baseline POST: %s", resp.Status)
	}
	return nil
}
