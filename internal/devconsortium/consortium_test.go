package devconsortium

import (
	"slices"
	"strings"
	"testing"
)

// TestCheck covers the option checks alone: they run before anything is
// written, so a bad command line leaves no half-made consortium behind.
func TestCheck(t *testing.T) {
	ok := consortiumOpts{dir: "x", boxes: []string{"a", "b"}, basePort: 17000}
	for _, tc := range []struct {
		name string
		edit func(*consortiumOpts)
		want string // substring of the error; "" for none
	}{
		{"ok", func(*consortiumOpts) {}, ""},
		{"no dir", func(o *consortiumOpts) { o.dir = "" }, "directory"},
		{"one box", func(o *consortiumOpts) { o.boxes = o.boxes[:1] }, "at least two"},
		{"hosts mismatch", func(o *consortiumOpts) { o.hosts = []string{"10.0.0.1"} }, "--hosts has 1 entries for 2 boxes"},
		{"low port", func(o *consortiumOpts) { o.basePort = 80 }, "--base-port"},
		{"high port", func(o *consortiumOpts) { o.basePort = 65530 }, "--base-port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			o.boxes = slices.Clone(ok.boxes)
			tc.edit(&o)
			err := o.check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("check: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("check: %v, want an error with %q", err, tc.want)
			}
		})
	}
	o := ok
	if err := o.check(); err != nil || !slices.Equal(o.hosts, []string{"127.0.0.1", "127.0.0.1"}) {
		t.Fatalf("hosts default to loopback: %v, %v", o.hosts, err)
	}
}
