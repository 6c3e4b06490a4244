package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/spf13/pflag"
)

// Exit codes of Main.
const (
	ExitOK       = 0
	ExitSLO      = 1 // the run completed but an SLO failed
	ExitUsage    = 2 // bad flags or arguments
	ExitRunError = 3 // the run could not be carried out (target unreachable setup, file I/O)
	// ExitRegression: a figure got worse than the previous run's beyond
	// its threshold (--compare-to, loadtest compare). It outranks ExitSLO.
	ExitRegression = 4
)

// Main runs `proxy loadtest ...` (args exclude "loadtest") and returns the
// process exit code. Progress goes to stderr, the text report to stdout.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, embed EmbedFunc) int {
	if len(args) > 0 {
		switch args[0] {
		case "merge":
			return mergeMain(args[1:], stdout, stderr)
		case "compare":
			return compareMain(args[1:], stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return ExitOK
	}
	if errors.Is(err, errUsagePrinted) {
		return ExitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return ExitUsage
	}
	if cfg.CPUProfile != "" {
		stopProfile, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return ExitRunError
		}
		defer stopProfile()
	}
	if cfg.Sweep {
		return sweepMain(ctx, cfg, embed, stdout, stderr)
	}
	// The previous report is read first: a gate that cannot judge should
	// fail before the run, not after it.
	var prev *Report
	if cfg.CompareTo != "" {
		if prev, err = ReadReport(cfg.CompareTo); err != nil {
			fmt.Fprintf(stderr, "loadtest: --compare-to: %v\n", err)
			return ExitRunError
		}
	}
	rep, err := execute(ctx, cfg, embed, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return ExitRunError
	}
	if prev != nil {
		if diff := loadDifferences(prev, rep, false); len(diff) > 0 && !cfg.CompareAnyway {
			// The run is still reported; only the comparison is refused.
			code := finishReport(rep, cfg, stdout, stderr)
			fmt.Fprintf(stderr, "loadtest: --compare-to %s ran another load (%s); --compare-anyway compares regardless\n",
				cfg.CompareTo, strings.Join(diff, "; "))
			return max(code, ExitUsage)
		}
		rep.Regression = compareRuns(prev, rep, cfg.CompareTo, cfg.Gate)
	}
	return finishReport(rep, cfg, stdout, stderr)
}

// sweepMain runs --sweep: the last step that met the objectives is
// reported in full, followed by the table of steps; the run fails when no
// step met them.
func sweepMain(ctx context.Context, cfg *Config, embed EmbedFunc, stdout, stderr io.Writer) int {
	rep, sw, err := runSweep(ctx, cfg, embed, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return ExitRunError
	}
	rep.Sweep = sw
	code := finishReport(rep, cfg, stdout, stderr)
	switch {
	case code == ExitRunError:
		return code
	case sw.GoodputRPS == 0:
		return ExitSLO
	}
	// The reported step met the objectives; the sweep ending at saturation
	// is its purpose, not a failure.
	return ExitOK
}

// startCPUProfile profiles this process (the generator, and in embedded
// mode the mock) into path until the returned func is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// finishReport prints the text report, writes the requested files and maps
// the SLO verdict to the exit code.
func finishReport(rep *Report, cfg *Config, stdout, stderr io.Writer) int {
	writeText(stdout, rep)
	if rep.Sweep != nil {
		writeSweepText(stdout, rep.Sweep)
	}
	if rep.Regression != nil {
		writeRegressionText(stdout, rep.Regression)
	}
	jsonFile, htmlFile := cfg.JSONFile, cfg.HTMLFile
	if cfg.OutDir != "" {
		if err := writeOutDir(cfg.OutDir, rep); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return ExitRunError
		}
		fmt.Fprintf(stderr, "loadtest: reports written to %s\n", cfg.OutDir)
	}
	if jsonFile != "" {
		if err := writeJSONFile(jsonFile, rep); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return ExitRunError
		}
	}
	if htmlFile != "" {
		if err := writeHTMLFile(htmlFile, rep); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return ExitRunError
		}
	}
	if rep.Regression != nil && !rep.Regression.Pass {
		return ExitRegression
	}
	if !rep.SLO.Pass {
		return ExitSLO
	}
	return ExitOK
}

// writeOutDir writes report.txt, report.json and report.html into dir.
func writeOutDir(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	var txt bytes.Buffer
	writeText(&txt, rep)
	if rep.Sweep != nil {
		writeSweepText(&txt, rep.Sweep)
	}
	if rep.Regression != nil {
		writeRegressionText(&txt, rep.Regression)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), txt.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	if err := writeJSONFile(filepath.Join(dir, "report.json"), rep); err != nil {
		return err
	}
	return writeHTMLFile(filepath.Join(dir, "report.html"), rep)
}
