package ledger

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/wardgate/wardgate/ledger/proof"
)

// BenchmarkAppend1KiB: hash a 1 KiB record, sign its entry and journal it
// durably, from many concurrent callers (as the record relay does). The
// headline is checkpoints=on, the ledger as a box runs it (a signed
// checkpoint every 1,024 entries or 5 s, the defaults); checkpoints=off
// (none during the run) stands beside it, so the two give the checkpoints'
// share of the append cost.
func BenchmarkAppend1KiB(b *testing.B) {
	b.Run("checkpoints=on", func(b *testing.B) {
		benchAppend1KiB(b, func(c *Config) { c.CheckpointInterval, c.CheckpointEntries = 0, 0 }) // Open's defaults
	})
	b.Run("checkpoints=off", func(b *testing.B) { benchAppend1KiB(b, nil) })
}

func benchAppend1KiB(b *testing.B, mod func(*Config)) {
	l := openTest(b, b.TempDir(), nil, mod)
	ctx := context.Background()
	rec := make([]byte, 1024)
	rand.Read(rec)
	b.SetParallelism(2048) // thousands of concurrent appenders keep both pipeline stages busy
	b.SetBytes(1024)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := append([]byte(nil), rec...)
		i := 0
		for pb.Next() {
			r[0], r[1] = byte(i), byte(i>>8)
			i++
			e := proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(r), Sender: "st-mary", Receiver: "city-general", ContentType: "application/hl7-v2"}
			if _, err := l.Append(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	// The benchmark measures what it names: checkpoints were (or were
	// not) signed during the run.
	if on := mod != nil; b.N >= 2048 && on != (l.CheckpointSize() > 0) {
		b.Fatalf("checkpoints=%v, yet the last checkpoint covers %d of %d entries", on, l.CheckpointSize(), b.N)
	}
}

// BenchmarkInclusionVerify: offline receipt verification of a leaf in a
// 1M-entry log (signatures excluded: proof only), and the proof size.
func BenchmarkInclusionVerify(b *testing.B) {
	t := newTree()
	const n = 1 << 20
	leaves := make([][32]byte, n)
	for i := range leaves {
		leaves[i][0], leaves[i][1], leaves[i][2] = byte(i), byte(i>>8), byte(i>>16)
	}
	t.append(leaves)
	root, _ := t.root(n)
	idx := uint64(123457)
	p, err := t.inclusion(idx, n)
	if err != nil {
		b.Fatal(err)
	}
	r := &proof.Receipt{LeafIndex: idx, Checkpoint: proof.Checkpoint{Size: n, Root: root}}
	for _, h := range p {
		r.InclusionProof = append(r.InclusionProof, proof.Hash(h))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := proof.VerifyInclusion(r, leaves[idx]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p)*32), "proof-bytes")
}

// BenchmarkVerifyReceiptOffline: everything Verify does offline on a real
// receipt: entry and checkpoint signatures, inclusion proof, record digest.
func BenchmarkVerifyReceiptOffline(b *testing.B) {
	l := openTest(b, b.TempDir(), nil, nil)
	ctx := context.Background()
	appendN(b, l, 0, 1024)
	r, err := l.Receipt(ctx, 517)
	if err != nil {
		b.Fatal(err)
	}
	o := proof.VerifyOptions{RecordKey: testSigner(b, 7).Public(), Record: []byte{5, 2, 0}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := proof.Verify(ctx, r, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnchorGas anchors checkpoints of 1,024 records each on the pinned
// dev genesis and reports the gas of one checkpoint tx and per record.
func BenchmarkAnchorGas(b *testing.B) {
	sc := newSimChain(b)
	chain, _ := sc.gateway(b)
	l := openTest(b, b.TempDir(), chain, nil)
	ctx := context.Background()
	bc := sc.sim.Client()
	var gas, txs uint64
	for i := 0; i < b.N+1; i++ {
		appendN(b, l, i*1024, 1024)
		if _, err := l.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		size := uint64((i + 1) * 1024)
		waitAnchored(b, l, size)
		if i == 0 {
			continue // the first anchor also creates the gateway's storage slot
		}
		s := l.Status(ctx)
		rc, err := bc.TransactionReceipt(ctx, s.LastAnchor.TxHash)
		if err != nil || rc.Status != types.ReceiptStatusSuccessful {
			b.Fatalf("anchor receipt: %v", err)
		}
		gas += rc.GasUsed
		txs++
	}
	time.Sleep(0)
	b.ReportMetric(float64(gas)/float64(txs), "gas/checkpoint")
	b.ReportMetric(float64(gas)/float64(txs)/1024, "gas/record")
}

// BenchmarkDiskSync is the disk the journal sits on, without wardgate: a
// 464-byte append and fdatasync in a loop, as the write-ahead log does for
// a lone record, from one writer and from two at once (two boxes on one
// disk, as the record benchmarks run them). It reports syncs/s, p99 and the
// syncs over 3 ms. On this machine's virtual disk two writers at full rate
// stall about every 100 ms for ~10 ms, the tail the daemon benchmarks see.
//
//	go test -run '^$' -bench DiskSync -benchtime 4s ./ledger/
func BenchmarkDiskSync(b *testing.B) {
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			dir := b.TempDir()
			lat := make([][]time.Duration, writers)
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range writers {
				f, err := os.Create(filepath.Join(dir, fmt.Sprint("wal", w)))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					rec := make([]byte, 464)
					for range b.N {
						t := time.Now()
						if _, err := f.Write(rec); err != nil {
							b.Error(err)
							return
						}
						if err := syscall.Fdatasync(int(f.Fd())); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			slices.Sort(all)
			slow := len(all) - sort.Search(len(all), func(i int) bool { return all[i] > 3*time.Millisecond })
			b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "syncs/s")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1e3, "p99-ms")
			b.ReportMetric(float64(slow), "syncs>3ms")
		})
	}
}
