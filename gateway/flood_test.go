package gateway_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
)

// TestAttestationFlood: an attacker on c's underlay address floods a's
// attestation endpoint with quote requests in c's name. c's own budget
// refuses most of them (429); b's renewals of its verdict on a, which
// need a's TPM too, go through, so the a–b tunnel stays up, both ways,
// through several verdict lifetimes.
func TestAttestationFlood(t *testing.T) {
	c := newConsortium(t, []string{"a", "b", "c"})
	a, b := c.boxes["a"], c.boxes["b"]
	a.start(t)
	b.start(t)
	a.waitPeer(t, "b", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	b.waitPeer(t, "a", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	cfg, err := config.LoadPartial(a.path)
	if err != nil {
		t.Fatal(err)
	}
	firstExpiry := b.peer(t, "a").Expiry

	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second) // > 3 verdict lifetimes of 3 s
	defer stop()
	var refused, answered atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flood(ctx, "https://"+cfg.Attestation.Listen, &refused, &answered)
		}()
	}
	for ctx.Err() == nil {
		for _, v := range []struct {
			from *box
			peer string
		}{{a, "b"}, {b, "a"}} {
			if p := v.from.peer(t, v.peer); p.State != control.PeerAdmitted {
				stop()
				wg.Wait()
				t.Fatalf("%s dropped %s during a flood in c's name: %+v", v.from.name, v.peer, p)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	if refused.Load() == 0 {
		t.Fatalf("the flood was never refused (%d answered): no per-peer budget", answered.Load())
	}
	if p := b.peer(t, "a"); !p.Expiry.After(firstExpiry.Add(5 * time.Second)) {
		t.Errorf("b did not renew its verdict on a during the flood: expiry %v, first %v", p.Expiry, firstExpiry)
	}
	t.Logf("flood in c's name: %d refused 429, %d reached the TPM", refused.Load(), answered.Load())
}

// flood posts quote requests in c's name until ctx ends.
func flood(ctx context.Context, base string, refused, answered *atomic.Int64) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // as every caller: see attest/peerproto
	}}
	body := `{"from":"c","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/attest/evidence", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Wardgate-From", "c")
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			refused.Add(1)
		case http.StatusOK:
			answered.Add(1)
		}
	}
}
