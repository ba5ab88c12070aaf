// Command mutants is `make mutants`: it checks that every guarantee in
// docs/guarantees.md has a mutant and every mutant a guarantee, then
// applies each mutant and runs the tests that must kill it. It exits 1 if
// the map is incomplete or any mutant is not killed. See package mutants.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"time"

	"github.com/wardgate/wardgate/internal/mutants"
)

func main() {
	root := flag.String("root", ".", "the module root (the working tree)")
	doc := flag.String("doc", "docs/guarantees.md", "the guarantee map, relative to -root")
	jobs := flag.Int("j", 2, "mutants tested at once")
	only := flag.String("only", "", "run only mutants whose id matches this regex (the map is still checked)")
	timeout := flag.Duration("timeout", 5*time.Minute, "go test -timeout for each mutant")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *root, *doc, *only, *jobs, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root, doc, only string, jobs int, timeout time.Duration) error {
	ms, err := mutants.Load(root)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(root, doc))
	if err != nil {
		return err
	}
	rows, err := mutants.ParseRows(b)
	if err != nil {
		return fmt.Errorf("%s: %w", doc, err)
	}
	mapErr := mutants.CheckMap(rows, ms)
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return fmt.Errorf("-only: %w", err)
		}
		ms = filter(ms, re)
	}
	fmt.Printf("%d guarantees, %d mutants, %d at a time\n", len(rows), len(ms), jobs)
	r := &mutants.Runner{Root: root, Timeout: timeout}
	start := time.Now()
	outs := r.RunAll(ctx, ms, jobs, func(o mutants.Outcome) {
		fmt.Printf("%-44s %-13s %6.1fs\n", o.Mutant.ID, o.Result, o.Elapsed.Seconds())
	})
	return mutants.Report(os.Stdout, outs, time.Since(start), mapErr)
}

func filter(ms []*mutants.Mutant, re *regexp.Regexp) []*mutants.Mutant {
	var out []*mutants.Mutant
	for _, m := range ms {
		if re.MatchString(m.ID) {
			out = append(out, m)
		}
	}
	return out
}
