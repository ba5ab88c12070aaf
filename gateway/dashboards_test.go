package gateway_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The shipped Grafana dashboard and Prometheus alert rules query only
// metrics a running box exports: checkShippedQueries scrapes a box's
// /metrics and reads every PromQL expression in both files.

const (
	dashboardFile = "../configs/grafana/wardgate.json"
	alertsFile    = "../configs/prometheus/wardgate-alerts.yml"
)

// checkShippedQueries fails naming each metric the dashboard or the alert
// rules query that b does not export.
func checkShippedQueries(t *testing.T, b *box) {
	t.Helper()
	exported := scrapeMetricNames(t, "http://"+b.cfg(t).Metrics.Listen+"/metrics")
	exprs := append(dashboardExprs(t), alertExprs(t)...)
	if len(exprs) < 10 {
		t.Fatalf("found only %d PromQL expressions in %s and %s", len(exprs), dashboardFile, alertsFile)
	}
	for _, e := range exprs {
		names := promqlMetrics(e)
		if len(names) == 0 {
			t.Errorf("no metric found in %q", e)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%q queries %s, which the box does not export", e, n)
			}
		}
	}
}

// scrapeMetricNames is every metric family and sample name at url.
func scrapeMetricNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if f, ok := strings.CutPrefix(l, "# TYPE "); ok {
			names[strings.Fields(f)[0]] = true
			continue
		}
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s exported no metrics", url)
	}
	return names
}

func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

func alertExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("%s: a rule without alert or expr: %+v", alertsFile, r)
			}
			out = append(out, r.Expr)
		}
	}
	return out
}

var (
	promStrings  = regexp.MustCompile(`"[^"]*"|'[^']*'`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// promqlMetrics is the metric names a PromQL expression selects: its
// identifiers that are not functions, keywords, labels or durations.
func promqlMetrics(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	seen := map[string]bool{}
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.' || s[loc[0]-1] == '$') {
			continue // a number's suffix or a template variable
		}
		if rest := strings.TrimLeft(s[loc[1]:], " "); strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(name)] {
			continue // a function or a keyword
		}
		seen[name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestPromQLMetrics: the extractor finds the metrics, and only them.
func TestPromQLMetrics(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (state) (wardgate_peers{instance=~"$instance"})`:                                 "wardgate_peers",
		`histogram_quantile(0.99, sum by (le) (rate(wardgate_journal_sync_seconds_bucket[5m])))`: "wardgate_journal_sync_seconds_bucket",
		`wardgate_chain_connected == 0 and increase(wardgate_anchor_errors_total[10m]) > 0`:      "wardgate_anchor_errors_total wardgate_chain_connected",
		`(wardgate_peer_verdict_expiry_timestamp_seconds - time()) < 300`:                        "wardgate_peer_verdict_expiry_timestamp_seconds",
		`deriv(wardgate_anchor_lag_entries[15m]) > 0 and wardgate_anchor_lag_entries > 1e2`:      "wardgate_anchor_lag_entries",
	} {
		if got := strings.Join(promqlMetrics(expr), " "); got != want {
			t.Errorf("promqlMetrics(%q) = %q, want %q", expr, got, want)
		}
	}
}
