package loadtest

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompareFigures judges changed figures of a synthetic report against
// the default limits.
func TestCompareFigures(t *testing.T) {
	base := func() *Report {
		r := fakeReport(t, 10, 100, false)
		r.Resources.Source = "pid"
		r.Resources.PeakRSSBytes = 100 << 20
		r.Resources.Operator = OperatorFigures{CPUPerRequestUs: 200, RSSPerOpenStreamBytes: 8192}
		return r
	}
	cases := []struct {
		name    string
		change  func(r *Report)
		limits  func(l *GateLimits)
		figure  string
		verdict string
		pass    bool
	}{
		{"unchanged", func(*Report) {}, nil, "p99 latency", verdictOK, true},
		{"p99 up 50%", func(r *Report) { r.Endpoints[0].Latency.P99 *= 1.5 }, nil, "p99 latency", verdictWorse, false},
		{"p99 up 5%", func(r *Report) { r.Endpoints[0].Latency.P99 *= 1.05 }, nil, "p99 latency", verdictOK, true},
		{"p99 down 50%", func(r *Report) { r.Endpoints[0].Latency.P99 *= 0.5 }, nil, "p99 latency", verdictImproved, true},
		{"p99 judged off", func(r *Report) { r.Endpoints[0].Latency.P99 *= 3 }, func(l *GateLimits) { l.P99Pct = -1 }, "p99 latency", verdictOff, true},
		// 0.2 ms to 0.4 ms doubles, but stays within the 1 ms slack.
		{"tiny latency within slack", func(r *Report) { r.Endpoints[0].Latency.P99 = 0.4 }, nil, "p99 latency", verdictOK, true},
		{"throughput down 20%", func(r *Report) { r.Endpoints[0].Throughput.OKRPS *= 0.8 }, nil, "throughput", verdictWorse, false},
		{"throughput up 20%", func(r *Report) { r.Endpoints[0].Throughput.OKRPS *= 1.2 }, nil, "throughput", verdictImproved, true},
		{"errors +2 points", func(r *Report) { r.Endpoints[0].ErrorRate = 0.02 }, nil, "error rate", verdictWorse, false},
		{"errors +0.5 points", func(r *Report) { r.Endpoints[0].ErrorRate = 0.005 }, nil, "error rate", verdictOK, true},
		{"cpu +20%", func(r *Report) { r.Resources.Operator.CPUPerRequestUs = 240 }, nil, "CPU per request", verdictWorse, false},
		{"cpu +10%", func(r *Report) { r.Resources.Operator.CPUPerRequestUs = 220 }, nil, "CPU per request", verdictOK, true},
		{"cpu not sampled", func(r *Report) { r.Resources.Source = "none" }, nil, "CPU per request", verdictNA, true},
		{"rss +30%", func(r *Report) { r.Resources.PeakRSSBytes = 130 << 20 }, nil, "peak RSS", verdictWorse, false},
		{"per stream +50%", func(r *Report) { r.Resources.Operator.RSSPerOpenStreamBytes = 12288 }, nil, "RSS per open stream", verdictWorse, false},
		{"no streams", func(r *Report) {}, nil, "p99 TTFT", verdictNA, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev, cur := base(), base()
			if tc.name == "tiny latency within slack" {
				prev.Endpoints[0].Latency.P99 = 0.2
			}
			tc.change(cur)
			lim := defaultGateLimits
			if tc.limits != nil {
				tc.limits(&lim)
			}
			r := compareRuns(prev, cur, "prev.json", lim)
			if r.Pass != tc.pass {
				t.Errorf("pass %v, want %v: %+v", r.Pass, tc.pass, r.Figures)
			}
			var got *RegressionFigure
			for i := range r.Figures {
				if r.Figures[i].Name == tc.figure {
					got = &r.Figures[i]
				}
			}
			if got == nil || got.Verdict != tc.verdict {
				t.Fatalf("%s: %+v, want verdict %s", tc.figure, got, tc.verdict)
			}
			var out bytes.Buffer
			writeRegressionText(&out, r)
			for _, col := range []string{"figure", "before", "after", "change", "threshold", "verdict", tc.figure} {
				if !strings.Contains(out.String(), col) {
					t.Errorf("table lacks %q:\n%s", col, out.String())
				}
			}
		})
	}
	// A figure that grew from zero is an infinite relative change.
	prev, cur := base(), base()
	prev.Resources.Operator.CPUPerRequestUs, prev.Resources.Source = 0, "pid"
	if r := compareRuns(prev, cur, "p", defaultGateLimits); r.Figures[4].Verdict != verdictNA {
		t.Errorf("cpu from 0: %+v", r.Figures[4])
	}
	f := RegressionFigure{Before: 0, After: 5, Limit: 10}
	if v := judge(&gateFigures[0], &f, true, 1); v != verdictWorse || !math.IsInf(f.Change, 1) {
		t.Errorf("0 -> 5 ms: %s %v", v, f.Change)
	}
}

// runAgainst runs a short closed-loop load against url and writes the JSON
// report to path; extra flags are appended. It returns the exit code and
// the text report.
func runAgainst(t *testing.T, url, path string, extra ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--target", url, "-c", "3", "--requests", "8", "-d", "2s", "--ramp", "0", "--warmup", "0",
		"--stream", "0.5", "--interval", "100ms", "--max-error-rate", "-1", "--json", path}, extra...)
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, &stdout, &stderr, nil)
	if code == ExitRunError || code == ExitUsage {
		t.Logf("stderr:\n%s", stderr.String())
	}
	return code, stdout.String() + stderr.String()
}

// TestCompareToGate runs a loopback target, the same target again (the
// gate passes) and a target slowed by 150 ms per answer (it fails).
func TestCompareToGate(t *testing.T) {
	opts := mockOpts{Tokens: 4, ChunkDelay: 2 * time.Millisecond, Latency: 20 * time.Millisecond}
	fast := startMock(t, &mockServer{opts: opts})
	slowOpts := opts
	slowOpts.Latency += 150 * time.Millisecond
	slow := startMock(t, &mockServer{opts: slowOpts})
	dir := t.TempDir()
	prev, same, slowed := filepath.Join(dir, "prev.json"), filepath.Join(dir, "same.json"), filepath.Join(dir, "slow.json")
	// Each user's 8 requests are paced 250 ms apart, longer than even the
	// slowed answers: the throughput stays (but for the later end of the
	// last answers), the latency does not. The thresholds leave room for a
	// busy machine's jitter (identical runs on the shared machine differed
	// by 12 ms in p99), which the slowed target's +150 ms far exceeds.
	gate := []string{"--regress-p99", "50", "--regress-ttft", "50", "--regress-slack", "50ms", "--regress-throughput", "30"}
	if code, out := runAgainst(t, fast, prev); code != ExitOK {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	code, out := runAgainst(t, fast, same, append([]string{"--compare-to", prev}, gate...)...)
	if code != ExitOK || !strings.Contains(out, "regression gate: PASS") {
		t.Fatalf("unchanged target: exit %d\n%s", code, out)
	}
	page := filepath.Join(dir, "slow.html")
	code, out = runAgainst(t, slow, slowed, append([]string{"--compare-to", prev, "--html", page}, gate...)...)
	if code != ExitRegression || !strings.Contains(out, "regression gate: FAIL") {
		t.Fatalf("slowed target: exit %d, want %d\n%s", code, ExitRegression, out)
	}
	t.Logf("slowed run:\n%s", out)
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "Compared with") ||
		!strings.Contains(string(b), `class="fail">REGRESSED`) {
		t.Errorf("HTML report lacks the table of changes (%v)", err)
	}
	rep, err := ReadReport(slowed)
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Regression
	if g == nil || g.Pass || g.Previous != prev || g.Limits.P99Pct != 50 {
		t.Fatalf("regression in the JSON report: %+v", g)
	}
	for _, f := range g.Figures {
		switch f.Name {
		case "p99 latency", "p99 TTFT":
			if f.Verdict != verdictWorse || f.After-f.Before < 100 {
				t.Errorf("%s: %+v", f.Name, f)
			}
		case "throughput", "error rate":
			if f.Verdict == verdictWorse {
				t.Errorf("%s regressed though the pace held: %+v", f.Name, f)
			}
		case "CPU per request", "peak RSS", "RSS per open stream":
			// Nothing sampled the target (no --pid).
			if f.Verdict != verdictNA {
				t.Errorf("%s: %+v", f.Name, f)
			}
		}
	}

	// The same judgement on reports already written.
	var so, se bytes.Buffer
	if c := Main(context.Background(), append([]string{"compare", prev, slowed}, gate...), &so, &se, nil); c != ExitRegression {
		t.Errorf("compare prev slowed: exit %d: %s", c, se.String())
	}
	so.Reset()
	if c := Main(context.Background(), append([]string{"compare", prev, same}, gate...), &so, &se, nil); c != ExitOK ||
		!strings.Contains(so.String(), "p99 latency") {
		t.Errorf("compare prev same: exit %d: %s", c, so.String())
	}

	// Another load is refused, unless --compare-anyway.
	code, out = runAgainst(t, fast, filepath.Join(dir, "other.json"), "--compare-to", prev, "--model", "mock-2")
	if code != ExitUsage || !strings.Contains(out, "model mock-gpt vs mock-2") {
		t.Errorf("another load: exit %d\n%s", code, out)
	}
	code, out = runAgainst(t, fast, filepath.Join(dir, "other.json"), append([]string{"--compare-to", prev,
		"--model", "mock-2", "--compare-anyway"}, gate...)...)
	if code != ExitOK {
		t.Errorf("--compare-anyway: exit %d\n%s", code, out)
	}
	// A missing previous report fails before any load is sent.
	code, _ = runAgainst(t, "http://127.0.0.1:1", filepath.Join(dir, "x.json"), "--compare-to", filepath.Join(dir, "none.json"))
	if code != ExitRunError {
		t.Errorf("missing previous report: exit %d", code)
	}
}
