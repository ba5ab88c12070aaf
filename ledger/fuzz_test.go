package ledger

import (
	"context"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
)

// FuzzParseReceipt: the receipt parser takes files from anyone. It must
// never panic, and what it accepts must survive Verify without panicking
// and re-encode to something it accepts again.
func FuzzParseReceipt(f *testing.F) {
	l := openTest(f, f.TempDir(), nil, nil)
	appendN(f, l, 0, 7)
	for _, seq := range []uint64{0, 3, 6} {
		r, err := l.Receipt(context.Background(), seq)
		if err != nil {
			f.Fatal(err)
		}
		js, _ := r.Marshal()
		f.Add(js)
	}
	l.Close()
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := proof.ParseReceipt(b)
		if err != nil {
			return
		}
		_, _ = proof.Verify(context.Background(), r, proof.VerifyOptions{})
		js, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted receipt does not re-encode: %v", err)
		}
		if _, err := proof.ParseReceipt(js); err != nil && len(js) <= proof.MaxReceiptSize {
			t.Fatalf("re-encoded receipt rejected: %v", err)
		}
	})
}
