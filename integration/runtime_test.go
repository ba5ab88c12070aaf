package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// TestRuntimeTamperRevokes: b's kernel image is changed on disk while b
// runs. b's IMA measures it again, and every peer revokes b at its next
// round, naming runtime-unapproved with the path, without b restarting.
func TestRuntimeTamperRevokes(t *testing.T) {
	c := newCluster(t, cluster.Userspace, []string{"a", "b", "c"})
	enableRuntime(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	A, B, C := c.Box("a"), c.Box("b"), c.Box("c")
	for _, v := range []*cluster.Box{A, C} {
		if _, err := v.WaitPeer(ctx, "b", admitted); err != nil {
			t.Fatal(err)
		}
	}
	if err := B.TamperRunning(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*cluster.Box{A, C} {
		p, err := v.WaitPeer(ctx, "b", func(p cluster.Peer) bool { return p.State != "admitted" })
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		named := false
		for _, r := range p.Reasons {
			codes = append(codes, r.Code)
			named = named || (r.Code == "runtime-unapproved" && strings.Contains(r.Message, B.KernelPath()))
		}
		if !named {
			t.Fatalf("%s revoked b with reasons %v; want runtime-unapproved naming %s", v.Name, codes, B.KernelPath())
		}
	}
	if !B.Running() {
		t.Fatal("b restarted or died; the revocation must come from the running box's measurements")
	}
	// a and c still admit each other: only the tampered box is out.
	if ps, err := A.Peers(ctx); err != nil || ps["c"].State != "admitted" {
		t.Fatalf("a's view of c: %+v, %v", ps["c"], err)
	}
}
