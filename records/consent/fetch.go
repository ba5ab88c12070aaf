package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Fetcher reads a patient's Consents from the EHR's FHIR server
// (GET [base]/Consent?patient=<id>), with a short cache, for hospitals that
// keep consents there rather than posting them to the box. Safe for
// concurrent use.
type Fetcher struct {
	Base   string       // the FHIR server's base URL
	Client *http.Client // default: 5 s timeout
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]fetched
}

type fetched struct {
	at time.Time
	cs []*Consent
}

// Bounds on what one lookup may bring back and on the cache.
const (
	DefaultFetchTTL   = 30 * time.Second
	maxFetchBytes     = 4 << 20
	maxFetchConsents  = 256
	maxFetchCacheSize = 1 << 16
)

// ErrFetch: the EHR's Consent search failed; the gate refuses (fails closed).
var ErrFetch = errors.New("consent: EHR Consent search failed")

// ForPatient returns the patient's Consents from the cache, or from the
// EHR when the cached answer is older than TTL.
func (f *Fetcher) ForPatient(ctx context.Context, patient string, now time.Time) ([]*Consent, error) {
	ttl := f.TTL
	if ttl <= 0 {
		ttl = DefaultFetchTTL
	}
	f.mu.Lock()
	e, ok := f.cache[patient]
	f.mu.Unlock()
	if ok && now.Sub(e.at) < ttl {
		return e.cs, nil
	}
	cs, err := f.search(ctx, patient)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.cache == nil || len(f.cache) >= maxFetchCacheSize {
		f.cache = make(map[string]fetched)
	}
	f.cache[patient] = fetched{at: now, cs: cs}
	f.mu.Unlock()
	return cs, nil
}

// search runs GET [base]/Consent?patient=<id> and parses the searchset.
func (f *Fetcher) search(ctx context.Context, patient string) ([]*Consent, error) {
	u := f.Base + "/Consent?patient=" + url.QueryEscape(patient)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/fhir+json")
	cl := f.Client
	if cl == nil {
		cl = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrFetch, f.Base, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer: %w", ErrFetch, err)
	}
	if len(body) > maxFetchBytes {
		return nil, fmt.Errorf("%w: the answer is over %d bytes", ErrFetch, maxFetchBytes)
	}
	return parseSearchset(body, patient)
}

// parseSearchset reads the Consents of a searchset Bundle; each keeps its
// resource bytes (and their digest) as the Bundle carried them. A Consent
// about another patient is an EHR error and is refused.
func parseSearchset(body []byte, patient string) ([]*Consent, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		return nil, fmt.Errorf("%w: the answer is not a FHIR Bundle", ErrFetch)
	}
	if len(b.Entry) > maxFetchConsents {
		return nil, fmt.Errorf("%w: %d Consents for one patient, limit %d", ErrFetch, len(b.Entry), maxFetchConsents)
	}
	var out []*Consent
	for i, e := range b.Entry {
		c, err := Parse(e.Resource)
		if err != nil {
			return nil, fmt.Errorf("%w: Bundle.entry[%d].resource: %w", ErrFetch, i, err)
		}
		if c.Patient != patient {
			return nil, fmt.Errorf("%w: Bundle.entry[%d] is a Consent for another patient", ErrFetch, i)
		}
		c.Version = defaultVersionIfEmpty(c)
		out = append(out, c)
	}
	return out, nil
}

func defaultVersionIfEmpty(c *Consent) string {
	if c.Version != "" {
		return c.Version
	}
	return defaultVersion(c)
}
