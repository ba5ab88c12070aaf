package peerproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wardgate/wardgate/internal/names"
)

// Bounds of the nonce: what verifiers issue (32 bytes), with room to
// change.
const (
	minNonce = 16
	maxNonce = 64
)

type fromMsg struct {
	From string `json:"from"`
}

type evidenceReq struct {
	From  string `json:"from"`
	Nonce []byte `json:"nonce"`
}

// decodeRequest parses one protocol request body strictly: one JSON
// object, no unknown fields, nothing after it, and sane field sizes.
func decodeRequest(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	var from string
	switch m := v.(type) {
	case *fromMsg:
		from = m.From
	case *evidenceReq:
		from = m.From
		if len(m.Nonce) < minNonce || len(m.Nonce) > maxNonce {
			return fmt.Errorf("nonce is %d bytes; it must be %d..%d", len(m.Nonce), minNonce, maxNonce)
		}
	}
	// The same rule as the peers' names in the config, so that a name
	// refused here could never have been a configured peer.
	return names.CheckBox(`"from"`, from)
}
