package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wardgate/wardgate/records"
	"github.com/wardgate/wardgate/records/hl7"
)

// PostRecord hands a record to b's LAN API for peer, as an EHR would, and
// returns the HTTP status and body (the receipt, or the refusal).
func (b *Box) PostRecord(ctx context.Context, peer, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.LAN()+"/v1/records", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("To", peer)
	req.Header.Set("Content-Type", contentType)
	resp, err := b.LANClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, out, err
}

// SendHL7 sends one HL7 v2 message to b over MLLP, as an interface engine
// would, and returns the ACK.
func (b *Box) SendHL7(ctx context.Context, msg []byte) (*hl7.Ack, error) {
	conn, err := b.dialMLLP(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	conn.SetDeadline(dl)
	if err := hl7.WriteFrame(conn, msg); err != nil {
		return nil, err
	}
	raw, err := hl7.ReadFrame(bufio.NewReader(conn), 1<<20)
	if err != nil {
		return nil, err
	}
	return hl7.ParseAck(raw)
}

// AnchoredReceipt polls b's receipt endpoint for the record with SHA-256
// digest (hex) until its receipt is anchored, and returns the receipt as
// the box serves it.
func (b *Box) AnchoredReceipt(ctx context.Context, digest string) ([]byte, error) {
	var last string
	for {
		resp, err := b.LANClient().Get(b.LAN() + "/v1/receipts/" + digest)
		if err == nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			last = fmt.Sprintf("%s %.200s", resp.Status, data)
			var rc struct {
				Status string `json:"status"`
			}
			if resp.StatusCode == http.StatusOK && json.Unmarshal(data, &rc) == nil && rc.Status == "anchored" {
				return data, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: %s: the receipt for %.12s was never anchored; last answer: %s: %w", b.Name, digest, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// PostBulk hands b's LAN API many FHIR resources at once (NDJSON, one a
// line) for peer, and returns the HTTP status and the answer (one receipt
// or refusal a line).
func (b *Box) PostBulk(ctx context.Context, peer string, resources [][]byte) (int, []byte, error) {
	body := append(bytes.Join(resources, []byte{'\n'}), '\n')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.LAN()+"/v1/records/bulk", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("To", peer)
	req.Header.Set("Content-Type", records.BulkContentType)
	resp, err := b.LANClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, out, err
}
