package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("benchstat", "", "benchstat binary (default: benchstat on $PATH, else $GOPATH/bin/benchstat)")
	timePct := fs.Float64("time", 10, "largest allowed sec/op increase in percent, counted only when significant")
	bytesPct := fs.Float64("bytes", 10, "largest allowed B/op increase in percent, counted only when significant")
	alpha := fs.Float64("alpha", 0.05, "significance level: a change counts when benchstat's p < alpha")
	allowMissing := fs.Bool("allow-missing", false, "a baseline benchmark that did not run is not a failure")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: benchgate [flags] baseline.txt new.txt")
		return 2
	}
	base, cur := fs.Arg(0), fs.Arg(1)
	for _, f := range []string{base, cur} {
		if _, err := os.Stat(f); err != nil {
			fmt.Fprintf(stderr, "benchgate: %v\n", err)
			if f == base {
				fmt.Fprintln(stderr, "benchgate: record a baseline first (make bench-baseline) on a quiet machine")
			}
			return 2
		}
	}
	path, err := findBenchstat(*bin)
	if err != nil {
		fmt.Fprintf(stderr, "benchgate: %v\n", err)
		return 2
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(path, "-alpha", strconv.FormatFloat(*alpha, 'g', -1, 64), "-format", "csv", base, cur)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(stderr, "benchgate: %s: %v\n%s", path, err, errOut.Bytes())
		return 2
	}
	rows, err := parseCSV(&out, base)
	if err != nil {
		fmt.Fprintf(stderr, "benchgate: benchstat output: %v\n", err)
		return 2
	}
	if len(rows) == 0 {
		fmt.Fprintf(stderr, "benchgate: benchstat compared no benchmarks of %s and %s\n", base, cur)
		return 2
	}
	vs := judge(rows, limits{timePct: *timePct, bytesPct: *bytesPct, alpha: *alpha, allowMissing: *allowMissing})
	if writeTable(stdout, vs) {
		fmt.Fprintln(stdout, "bench-check: FAIL")
		return 1
	}
	fmt.Fprintln(stdout, "bench-check: PASS")
	return 0
}

// findBenchstat returns the benchstat to run.
func findBenchstat(flagged string) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	if p, err := exec.LookPath("benchstat"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("benchstat not on $PATH and no home folder: %w", err)
		}
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "benchstat")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("benchstat not found (go install golang.org/x/perf/cmd/benchstat@latest): %w", err)
	}
	return p, nil
}
