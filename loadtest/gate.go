package loadtest

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// GateLimits are the regression thresholds of --compare-to and `loadtest
// compare`: how much worse than the previous run a figure may get. A
// negative limit leaves that figure out of the verdict (it is still
// shown).
type GateLimits struct {
	P99Pct        float64 `json:"p99_increase_pct"`
	TTFTP99Pct    float64 `json:"ttft_p99_increase_pct"`
	ThroughputPct float64 `json:"throughput_drop_pct"`
	CPUPct        float64 `json:"cpu_per_request_increase_pct"`
	MemoryPct     float64 `json:"memory_increase_pct"`
	// ErrorRate is an absolute increase of the error fraction (0.01 = one
	// percentage point).
	ErrorRate float64 `json:"error_rate_increase"`
	// SlackMs: a latency change smaller than this never counts, so that a
	// 0.3 ms p99 becoming 0.4 ms is not a 33% regression.
	SlackMs float64 `json:"latency_slack_ms"`
}

// defaultGateLimits are the thresholds when no flag says otherwise: meant
// for a quiet, dedicated machine. On a shared one, identical runs differed
// by up to +316% in p99 and +61% in CPU per request while throughput and
// peak RSS stayed within 1.5% (loadtest/README.md): widen them there.
var defaultGateLimits = GateLimits{P99Pct: 10, TTFTP99Pct: 10, ThroughputPct: 10, CPUPct: 15, MemoryPct: 20,
	ErrorRate: 0.01, SlackMs: 1}

// gateFlags declares the threshold flags on fs; the returned func reads
// them after parsing.
func gateFlags(fs *pflag.FlagSet) func() GateLimits {
	d := defaultGateLimits
	p99 := fs.Float64("regress-p99", d.P99Pct, "regression gate: largest allowed p99 latency increase over the previous run, in percent (negative = not judged)")
	ttft := fs.Float64("regress-ttft", d.TTFTP99Pct, "regression gate: largest allowed p99 TTFT increase, in percent")
	tput := fs.Float64("regress-throughput", d.ThroughputPct, "regression gate: largest allowed drop of ok req/s, in percent")
	cpu := fs.Float64("regress-cpu", d.CPUPct, "regression gate: largest allowed increase of the target's CPU time per request, in percent")
	mem := fs.Float64("regress-memory", d.MemoryPct, "regression gate: largest allowed increase of the target's peak RSS and RSS per open stream, in percent")
	errRate := fs.Float64("regress-error-rate", d.ErrorRate, "regression gate: largest allowed increase of the error fraction (0.01 = one percentage point)")
	slack := fs.Duration("regress-slack", time.Duration(d.SlackMs*float64(time.Millisecond)), "regression gate: latency changes smaller than this never count")
	return func() GateLimits {
		return GateLimits{P99Pct: *p99, TTFTP99Pct: *ttft, ThroughputPct: *tput, CPUPct: *cpu, MemoryPct: *mem,
			ErrorRate: *errRate, SlackMs: float64(slack.Microseconds()) / 1000}
	}
}

// RegressionReport compares a run with a previous one.
type RegressionReport struct {
	Previous          string             `json:"previous"`
	PreviousStartedAt string             `json:"previous_started_at"`
	Limits            GateLimits         `json:"limits"`
	Figures           []RegressionFigure `json:"figures"`
	Pass              bool               `json:"pass"`
}

// RegressionFigure is one row of the table of changes. Change is in
// percent of Before, or in absolute units when Absolute is set (the error
// fraction); Limit is the threshold in the same terms.
type RegressionFigure struct {
	Name     string  `json:"name"`
	Unit     string  `json:"unit"`
	Before   float64 `json:"before"`
	After    float64 `json:"after"`
	Change   float64 `json:"change"`
	Absolute bool    `json:"absolute"`
	Limit    float64 `json:"limit"`
	// Verdict is ok, improved, REGRESSED, n/a (not measured in both runs)
	// or off (no threshold).
	Verdict string `json:"verdict"`
}

// Verdicts of a RegressionFigure.
const (
	verdictOK       = "ok"
	verdictImproved = "improved"
	verdictWorse    = "REGRESSED"
	verdictNA       = "n/a"
	verdictOff      = "off"
)

// gateFigure reads one figure from a report; ok is false when the report
// did not measure it.
type gateFigure struct {
	name, unit    string
	higherIsWorse bool
	absolute      bool
	latency       bool // subject to the slack
	limit         func(*GateLimits) float64
	get           func(*Report) (float64, bool)
}

// target returns the report's target endpoint.
func target(r *Report) *EndpointReport {
	for i := range r.Endpoints {
		if r.Endpoints[i].Name == "target" {
			return &r.Endpoints[i]
		}
	}
	return nil
}

func withTarget(f func(e *EndpointReport) (float64, bool)) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) {
		if e := target(r); e != nil {
			return f(e)
		}
		return 0, false
	}
}

// gateFigures are the judged figures, all of the target endpoint or the
// process under test. Allocations are not among them: the load test sees
// the target from outside; `make bench-check` guards them.
var gateFigures = []gateFigure{
	{name: "p99 latency", unit: "ms", higherIsWorse: true, latency: true,
		limit: func(l *GateLimits) float64 { return l.P99Pct },
		get:   withTarget(func(e *EndpointReport) (float64, bool) { return e.Latency.P99, e.Latency.Count > 0 })},
	{name: "p99 TTFT", unit: "ms", higherIsWorse: true, latency: true,
		limit: func(l *GateLimits) float64 { return l.TTFTP99Pct },
		get:   withTarget(func(e *EndpointReport) (float64, bool) { return e.TTFT.P99, e.TTFT.Count > 0 })},
	{name: "throughput", unit: "ok req/s",
		limit: func(l *GateLimits) float64 { return l.ThroughputPct },
		get:   withTarget(func(e *EndpointReport) (float64, bool) { return e.Throughput.OKRPS, e.ActiveSeconds > 0 })},
	{name: "error rate", unit: "fraction", higherIsWorse: true, absolute: true,
		limit: func(l *GateLimits) float64 { return l.ErrorRate },
		get:   withTarget(func(e *EndpointReport) (float64, bool) { return e.ErrorRate, e.Counters.Sent > 0 })},
	{name: "CPU per request", unit: "us", higherIsWorse: true,
		limit: func(l *GateLimits) float64 { return l.CPUPct },
		get: func(r *Report) (float64, bool) {
			return r.Resources.Operator.CPUPerRequestUs, r.Resources.Source != "none" && r.Resources.Operator.CPUPerRequestUs > 0
		}},
	{name: "peak RSS", unit: "MiB", higherIsWorse: true,
		limit: func(l *GateLimits) float64 { return l.MemoryPct },
		get: func(r *Report) (float64, bool) {
			return float64(r.Resources.PeakRSSBytes) / (1 << 20), r.Resources.Source != "none" && r.Resources.PeakRSSBytes > 0
		}},
	{name: "RSS per open stream", unit: "KiB", higherIsWorse: true,
		limit: func(l *GateLimits) float64 { return l.MemoryPct },
		get: func(r *Report) (float64, bool) {
			o := &r.Resources.Operator
			return o.RSSPerOpenStreamBytes / 1024, o.RSSPerOpenStreamBytes > 0
		}},
}

// compareRuns judges cur against prev with the limits.
func compareRuns(prev, cur *Report, prevName string, lim GateLimits) *RegressionReport {
	out := &RegressionReport{Previous: prevName, PreviousStartedAt: prev.StartedAt, Limits: lim, Pass: true,
		Figures: []RegressionFigure{}}
	for _, g := range gateFigures {
		f := RegressionFigure{Name: g.name, Unit: g.unit, Absolute: g.absolute, Limit: g.limit(&lim)}
		b, okB := g.get(prev)
		a, okA := g.get(cur)
		f.Before, f.After = b, a
		f.Verdict = judge(&g, &f, okB && okA, lim.SlackMs)
		if f.Verdict == verdictWorse {
			out.Pass = false
		}
		out.Figures = append(out.Figures, f)
	}
	return out
}

// judge fills f.Change and returns the verdict.
func judge(g *gateFigure, f *RegressionFigure, measured bool, slackMs float64) string {
	if !measured {
		return verdictNA
	}
	diff := f.After - f.Before
	switch {
	case g.absolute:
		f.Change = diff
	case f.Before != 0:
		f.Change = diff / f.Before * 100
	case diff != 0:
		f.Change = math.Copysign(math.Inf(1), diff)
	}
	if f.Limit < 0 {
		return verdictOff
	}
	worse := f.Change
	if !g.higherIsWorse {
		worse = -worse
	}
	if g.latency && math.Abs(diff) < slackMs {
		return verdictOK
	}
	switch {
	case worse > f.Limit:
		return verdictWorse
	case -worse > f.Limit:
		return verdictImproved
	}
	return verdictOK
}

// writeRegressionText prints the table of changes.
func writeRegressionText(out io.Writer, r *RegressionReport) {
	fmt.Fprintf(out, "\n== compared with %s (started %s)\n", r.Previous, r.PreviousStartedAt)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\tbefore\tafter\tchange\tthreshold\tverdict\n")
	for _, f := range r.Figures {
		before, after, change, limit := f.cells()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, before, after, change, limit, f.Verdict)
	}
	tw.Flush()
	if r.Pass {
		fmt.Fprintln(out, "regression gate: PASS")
	} else {
		fmt.Fprintln(out, "regression gate: FAIL")
	}
}

// cells formats a row of the table of changes (text and HTML alike).
func (f RegressionFigure) cells() (before, after, change, limit string) {
	before, after, change, limit = "-", "-", "-", "-"
	if f.Verdict != verdictNA {
		before, after = fmt.Sprintf("%.4g %s", f.Before, f.Unit), fmt.Sprintf("%.4g %s", f.After, f.Unit)
		change = fmt.Sprintf("%+.1f%%", f.Change)
		if f.Absolute {
			change = fmt.Sprintf("%+.4f", f.Change)
		}
	}
	if f.Limit >= 0 {
		limit = limitText(f)
	}
	return before, after, change, limit
}

// limitText states a threshold in the direction that counts as worse.
func limitText(f RegressionFigure) string {
	for _, g := range gateFigures {
		if g.name != f.Name {
			continue
		}
		sign := "+"
		if !g.higherIsWorse {
			sign = "-"
		}
		if g.absolute {
			return fmt.Sprintf("%s%g", sign, f.Limit)
		}
		return fmt.Sprintf("%s%g%%", sign, f.Limit)
	}
	return fmt.Sprintf("%g", f.Limit)
}
