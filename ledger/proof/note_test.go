package proof_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	tlog "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/ledger/proof"
)

// TestV1ReceiptStillVerifies: a receipt written by wardgate before
// checkpoints became signed notes (testdata/receipt-v1.json, made by the
// ledger at commit cd928f2) parses and verifies offline, and editing its
// checkpoint breaks it.
func TestV1ReceiptStillVerifies(t *testing.T) {
	raw, err := os.ReadFile("testdata/receipt-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := proof.ParseReceipt(raw)
	if err != nil {
		t.Fatalf("v1 receipt does not parse: %v", err)
	}
	if r.Version != proof.ReceiptVersionV1 {
		t.Fatalf("version %d", r.Version)
	}
	if _, err := proof.Verify(context.Background(), r, proof.VerifyOptions{RecordKey: r.RecordKey}); err != nil {
		t.Fatalf("v1 receipt does not verify: %v", err)
	}
	r.Checkpoint.Size++
	if _, err := proof.Verify(context.Background(), r, proof.VerifyOptions{RecordKey: r.RecordKey}); !errors.Is(err, proof.ErrBadSignature) {
		t.Fatalf("v1 receipt with an edited size: %v, want ErrBadSignature", err)
	}
	// A v1 receipt may not smuggle in a note, nor a v2 one drop it.
	bad := strings.Replace(string(raw), `"signature":`, `"note": "x\n", "signature":`, 1)
	if _, err := proof.ParseReceipt([]byte(bad)); !errors.Is(err, proof.ErrMalformedReceipt) {
		t.Fatalf("v1 receipt with a note: %v, want ErrMalformedReceipt", err)
	}
}

func signedCheckpoint(t *testing.T, size uint64) proof.Checkpoint {
	t.Helper()
	c := proof.Checkpoint{Log: "st-mary", Size: size}
	c.Root[0] = 9
	if err := c.Sign(testSigner(t, 1)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCheckpointNoteBindsSizeAndRoot: a version 2 checkpoint is a C2SP
// checkpoint note that formats/log parses under the log's key, and its
// JSON size and root must say what the note says.
func TestCheckpointNoteBindsSizeAndRoot(t *testing.T) {
	s := testSigner(t, 1)
	c := signedCheckpoint(t, 42)
	v, err := proof.LogVerifier("st-mary", s.Public())
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := tlog.ParseCheckpoint([]byte(c.Note), "wardgate.example/log/st-mary", v)
	if err != nil || cp.Size != 42 || cp.Hash[0] != 9 {
		t.Fatalf("C2SP parse of %q: %+v, %v", c.Note, cp, err)
	}
	if err := c.VerifySignature(s.Public()); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*proof.Checkpoint){
		"root":  func(c *proof.Checkpoint) { c.Root[1] ^= 1 },
		"size":  func(c *proof.Checkpoint) { c.Size-- },
		"log":   func(c *proof.Checkpoint) { c.Log = "city-general" },
		"note":  func(c *proof.Checkpoint) { c.Note = strings.Replace(c.Note, "42", "43", 1) },
		"other": func(c *proof.Checkpoint) { c.Note = signedCheckpoint(t, 41).Note },
	} {
		d := c
		edit(&d)
		if err := d.VerifySignature(s.Public()); !errors.Is(err, proof.ErrBadSignature) {
			t.Errorf("checkpoint with edited %s: %v, want ErrBadSignature", name, err)
		}
	}
}

// FuzzCheckpointNote feeds arbitrary signed-note text, as a receipt or a
// peer hands it over, to the checkpoint and cosignature parsers: no panic,
// and nothing but the real note verifies.
func FuzzCheckpointNote(f *testing.F) {
	s := testSigner(f, 1)
	c := proof.Checkpoint{Log: "st-mary", Size: 42}
	if err := c.Sign(s); err != nil {
		f.Fatal(err)
	}
	w, err := proof.CosignatureSigner(testSigner(f, 2), "city-general", nil)
	if err != nil {
		f.Fatal(err)
	}
	cosigned, err := note.Sign(&note.Note{Text: string(c.NoteText())}, w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.Note, string(cosigned[len(c.NoteText())+1:]))
	f.Add("wardgate.example/log/st-mary\n42\nAA==\n\n— x AAAAAAA=\n", "— y\n")
	f.Add("", "\n\n\n")
	wv, err := proof.CosignatureVerifier("city-general", testSigner(f, 2).Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, cosig string) {
		d := proof.Checkpoint{Log: "st-mary", Size: 42, Note: text}
		if d.VerifySignature(s.Public()) == nil && !strings.HasPrefix(text, string(c.NoteText())+"\n") {
			t.Fatalf("a note of other text verifies: %q", text)
		}
		if d.AddCosignatures([]byte(cosig)) == nil {
			_, _ = d.Cosigners([]note.Verifier{wv})
		}
	})
}

// TestNoteJSON: the fast JSON encoder writes a note, with its em dashes
// and newlines, as json.Marshal does.
func TestNoteJSON(t *testing.T) {
	c := signedCheckpoint(t, 7)
	w, err := proof.CosignatureSigner(testSigner(t, 2), "city-general", nil)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(&note.Note{Text: string(c.NoteText())}, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddCosignatures(cosigned[len(c.NoteText())+1:]); err != nil {
		t.Fatal(err)
	}
	wantSameJSON(t, "cosigned checkpoint", &proof.Receipt{Version: proof.ReceiptVersion, Checkpoint: c})
}
