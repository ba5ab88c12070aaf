package gateway

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/gateway/control"
)

// reportStore keeps every signed attestation report this box issued, in
// bbolt (state_dir/reports.db), with an in-memory index of summaries for
// `wardgate reports` and the report API.
type reportStore struct {
	db *bolt.DB

	mu    sync.RWMutex
	index []control.ReportSummary // oldest first
	byID  map[string]uint64       // id -> seq
}

var (
	bucketReports = []byte("reports") // seq -> signed report bytes
	bucketIDs     = []byte("ids")     // id -> seq
	bucketSums    = []byte("summaries")
)

func openReports(dir string) (*reportStore, error) {
	db, err := bolt.Open(filepath.Join(dir, "reports.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening report store in %s (is another wardgated using this state_dir?): %w", dir, err)
	}
	s := &reportStore{db: db, byID: map[string]uint64{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketReports, bucketIDs, bucketSums} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketSums).ForEach(func(k, v []byte) error {
			var sum control.ReportSummary
			if err := json.Unmarshal(v, &sum); err != nil {
				return fmt.Errorf("report summary %x: %w", k, err)
			}
			s.byID[sum.ID] = binary.BigEndian.Uint64(k)
			s.index = append(s.index, sum)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading report store: %w", err)
	}
	return s, nil
}

func (s *reportStore) close() error { return s.db.Close() }

// put stores a report durably (bbolt fsyncs each update) before it counts.
func (s *reportStore) put(sum control.ReportSummary, signed []byte) error {
	sj, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	var seq uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketIDs).Get([]byte(sum.ID)) != nil {
			return fmt.Errorf("report id %s already stored", sum.ID)
		}
		n, err := tx.Bucket(bucketReports).NextSequence()
		if err != nil {
			return err
		}
		seq = n
		k := binary.BigEndian.AppendUint64(nil, n)
		if err := tx.Bucket(bucketReports).Put(k, signed); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSums).Put(k, sj); err != nil {
			return err
		}
		return tx.Bucket(bucketIDs).Put([]byte(sum.ID), k)
	})
	if err != nil {
		return fmt.Errorf("storing report %s: %w", sum.ID, err)
	}
	s.mu.Lock()
	s.index = append(s.index, sum)
	s.byID[sum.ID] = seq
	s.mu.Unlock()
	return nil
}

// list returns summaries newest first, filtered (f validated).
func (s *reportStore) list(f control.ReportFilter) []control.ReportSummary {
	s.mu.RLock()
	all := slices.Clone(s.index)
	s.mu.RUnlock()
	slices.Reverse(all)
	return control.ApplyFilter(all, f)
}

func (s *reportStore) get(id string) ([]byte, error) {
	s.mu.RLock()
	seq, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("report %q: %w", id, control.ErrNotFound)
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketReports).Get(binary.BigEndian.AppendUint64(nil, seq))
		if v == nil {
			return fmt.Errorf("report %q: %w", id, control.ErrNotFound)
		}
		out = slices.Clone(v)
		return nil
	})
	return out, err
}

// summarize checks the report's signature with this box's key and
// extracts its summary.
func summarize(signed []byte, pub ed25519.PublicKey) (control.ReportSummary, error) {
	r, err := attest.VerifyReport(signed, pub)
	if err != nil {
		return control.ReportSummary{}, fmt.Errorf("report does not verify with this box's key: %w", err)
	}
	if r.ID == "" {
		return control.ReportSummary{}, errors.New("report has no id")
	}
	v := control.VerdictFail
	if r.Pass {
		v = control.VerdictPass
	}
	return control.ReportSummary{
		ID: r.ID, Time: r.Time, Verifier: r.Verifier, Peer: r.Peer, Verdict: v,
		Expiry: r.Expiry, PolicyVersion: r.PolicyVersion, Reasons: controlReasons(r.Reasons),
	}, nil
}
