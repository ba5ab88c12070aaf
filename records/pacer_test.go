package records

import (
	"context"
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
)

// countingJournal is the real ledger, counting the checkpoints asked for.
type countingJournal struct {
	*ledger.Ledger
	checkpoints atomic.Int64
}

func (c *countingJournal) Checkpoint(ctx context.Context) (proof.Checkpoint, error) {
	c.checkpoints.Add(1)
	return c.Ledger.Checkpoint(ctx)
}

// Many records arriving together share checkpoints, and every record's
// receipt then proves inclusion without signing one of its own.
func TestPacerSharesCheckpoints(t *testing.T) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, _ := proof.NewKeySigner(priv)
	l, err := ledger.Open(ctx, ledger.Config{Box: "st-mary", StateDir: t.TempDir(), Signer: signer,
		CheckpointInterval: time.Hour, CheckpointEntries: 1 << 40, Logger: testutil.EnvLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	j := &countingJournal{Ledger: l}
	p := newCPPacer(j, 50*time.Millisecond)
	const n = 300
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, err := l.Append(ctx, proof.Entry{Kind: proof.KindSent, Digest: proof.Digest([]byte{byte(i), byte(i >> 8)}),
				Sender: "st-mary", Receiver: "city-general", ContentType: "application/fhir+json"})
			if err != nil {
				t.Error(err)
				return
			}
			if err := p.ensure(ctx, a.Seq); err != nil {
				t.Error(err)
				return
			}
			rc, err := l.Receipt(ctx, a.Seq)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := proof.Verify(ctx, rc, proof.VerifyOptions{RecordKey: signer.Public()}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if c := j.checkpoints.Load(); c == 0 || c > n/4 {
		t.Fatalf("%d records asked for %d checkpoints; want them shared", n, c)
	}
	if st := l.Status(ctx); st.LastCheckpoint == nil || st.LastCheckpoint.Size != n {
		t.Fatalf("last checkpoint %+v, want size %d", st.LastCheckpoint, n)
	}
}
