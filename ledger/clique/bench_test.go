package clique

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/devchain"
	"github.com/wardgate/wardgate/ledger/proof"
)

// latencySamples is how many records each chain anchors per iteration.
const latencySamples = 12

// BenchmarkAnchorLatency: record acknowledged (Append returned and a
// checkpoint signed) until its receipt is anchored, p50 and p99, on the
// 3-signer Clique network (1 s blocks, min_depth 2) against the embedded
// dev chain (a block per transaction, min_depth 1) in the same run.
//
//	go test -run '^$' -bench AnchorLatency -benchtime 1x ./ledger/clique/
func BenchmarkAnchorLatency(b *testing.B) {
	b.Run("devchain", func(b *testing.B) {
		_, priv, _ := ed25519.GenerateKey(nil)
		ctx := context.Background()
		c, err := devchain.Start(ctx, devchain.Config{StateDir: b.TempDir(), Port: testutil.FreePort(b), Passphrase: "pw",
			Poll: 20 * time.Millisecond, Logger: testutil.QuietLogger(), Box: "st-mary", RecordKey: priv.Public().(ed25519.PublicKey)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		latency(b, c, priv)
	})
	b.Run("clique-3-signers", func(b *testing.B) {
		ctx := context.Background()
		bin, err := Binary(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n, err := Start(ctx, Options{Bin: bin, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.Close)
		_, priv, _ := ed25519.GenerateKey(nil)
		gw, _ := crypto.GenerateKey()
		c := cliqueChain(b, n, gw, priv)
		latency(b, c, priv)
	})
}

func cliqueChain(b *testing.B, n *Net, gw *ecdsa.PrivateKey, priv ed25519.PrivateKey) *ledger.Chain {
	ctx := context.Background()
	cl, err := ethclientDial(n.Nodes[0].URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	contract, err := ledger.SetupDev(ctx, cl, ledger.DevGateway{Addr: crypto.PubkeyToAddress(gw.PublicKey), Box: "st-mary", RecordKey: priv.Public().(ed25519.PublicKey)})
	if err != nil {
		b.Fatal(err)
	}
	c, err := ledger.NewChain(cl, ledger.ChainOptions{ChainID: ChainID, Contract: contract, Key: gw, Confirmations: minDepth, Poll: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// latency anchors latencySamples records one at a time and reports p50/p99.
func latency(b *testing.B, c *ledger.Chain, priv ed25519.PrivateKey) {
	ctx := context.Background()
	s, _ := proof.NewKeySigner(priv)
	l, err := ledger.Open(ctx, ledger.Config{Box: "st-mary", StateDir: b.TempDir(), Signer: s, Chain: c, CheckpointInterval: time.Hour,
		AnchorInterval: time.Millisecond, Logger: testutil.QuietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N * latencySamples {
		rec := []byte{byte(i), byte(i >> 8), 0xab}
		if _, err := l.Append(ctx, proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: "st-mary", Receiver: "city-general", ContentType: "application/hl7-v2"}); err != nil {
			b.Fatal(err)
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for {
			if s := l.AnchoredSizes(); len(s) > 0 && s[len(s)-1] >= cp.Size {
				break
			}
			if time.Since(t0) > time.Minute {
				b.Fatalf("record %d not anchored in a minute", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99-ms")
}

func ethclientDial(url string) (*ethclient.Client, error) {
	return ethclient.DialContext(context.Background(), url)
}
