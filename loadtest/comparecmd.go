package loadtest

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// compareMain implements `proxy loadtest compare previous.json current.json`:
// the regression gate of --compare-to on two reports already written (a
// merged multi-machine run, say).
func compareMain(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("loadtest compare", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	anyway := fs.Bool("compare-anyway", false, "compare even when the two runs ran different loads")
	limits := gateFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(stderr, "loadtest compare: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: proxy loadtest compare [--regress-* flags] previous.json current.json")
		return ExitUsage
	}
	prev, err := ReadReport(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "loadtest compare: %v\n", err)
		return ExitRunError
	}
	cur, err := ReadReport(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(stderr, "loadtest compare: %v\n", err)
		return ExitRunError
	}
	if diff := loadDifferences(prev, cur, false); len(diff) > 0 && !*anyway {
		fmt.Fprintf(stderr, "loadtest compare: the runs ran different loads (%s); --compare-anyway compares regardless\n",
			strings.Join(diff, "; "))
		return ExitUsage
	}
	r := compareRuns(prev, cur, fs.Arg(0), limits())
	writeRegressionText(stdout, r)
	if !r.Pass {
		return ExitRegression
	}
	return ExitOK
}
