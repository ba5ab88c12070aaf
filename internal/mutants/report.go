package mutants

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Report prints the table (id, guarantee, result, seconds), the details of
// every mutant not killed, and the total time; it returns an error if the
// map is incomplete or any mutant was not killed.
func Report(w io.Writer, outs []Outcome, total time.Duration, mapErr error) error {
	fmt.Fprintf(w, "\n%-44s %-22s %-13s %s\n", "mutant", "guarantee", "result", "seconds")
	bad := 0
	for _, o := range outs {
		fmt.Fprintf(w, "%-44s %-22s %-13s %7.1f\n", o.Mutant.ID, o.Mutant.Guarantee, o.Result, o.Elapsed.Seconds())
		if o.Result != Killed {
			bad++
		}
	}
	for _, o := range outs {
		if o.Result != Killed {
			fmt.Fprintf(w, "\n--- %s %s (%s, tests %q in %v):\n%s\n", o.Result, o.Mutant.ID, o.Mutant.Path(), o.Mutant.Tests, o.Mutant.Pkgs(), o.Detail)
		}
	}
	fmt.Fprintf(w, "\n%d mutants, %d killed, %d not killed; total %s\n", len(outs), len(outs)-bad, bad, total.Round(time.Second))
	var errs []error
	if mapErr != nil {
		fmt.Fprintf(w, "\nguarantee map:\n%v\n", mapErr)
		errs = append(errs, errors.New("the guarantee map is incomplete"))
	}
	if bad > 0 {
		errs = append(errs, fmt.Errorf("%d mutants not killed", bad))
	}
	return errors.Join(errs...)
}
