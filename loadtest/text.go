package loadtest

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// writeText prints the final report as aligned tables.
func writeText(out io.Writer, rep *Report) {
	c := &rep.Config
	mode := c.Mode + " loop"
	if c.Mode == "open" {
		mode = fmt.Sprintf("open loop, %s arrivals at %.1f req/s", c.Arrival, c.Rate)
	}
	fmt.Fprintf(out, "loadtest: %s, %s, %s, %d users x %d requests, cap %.0fs, ramp %.1fs, %.0f%% streamed\n",
		tierLabel(c), c.Protocol, mode, c.Users, c.Requests, c.Seconds.Duration, c.Seconds.Ramp, c.Stream*100)
	if len(rep.MergedFrom) > 0 {
		fmt.Fprintf(out, "merged from %d runs: %v\n", len(rep.MergedFrom), rep.MergedFrom)
	}
	if rep.ScheduledStart != "" {
		fmt.Fprintf(out, "started %s for --start-at %s\n", rep.StartedAt, rep.ScheduledStart)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(rep.Sources) > 0 {
		fmt.Fprintf(tw, "source\thost\tstarted at\toffset s\tsent\tok\t\n")
		for _, s := range rep.Sources {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%d\t%d\t\n", s.File, s.Host, s.StartedAt, s.OffsetSeconds, s.Sent, s.OK)
		}
		tw.Flush()
	}
	for i := range rep.Endpoints {
		e := &rep.Endpoints[i]
		fmt.Fprintf(out, "\n== %s  %s\n", e.Name, e.URL)
		fmt.Fprintf(tw, "scheduled\tsent\tok\terrors\terror rate\tstreamed\ttruncated\tlate sends\tusers active\tactive s\t\n")
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.4f\t%d\t%d\t%d\t%d\t%.2f\t\n", e.Throughput.Scheduled, e.Counters.Sent, e.Counters.OK,
			e.Counters.ErrorTotal(), e.ErrorRate, e.Counters.Streamed, e.Counters.Truncated, e.Counters.Late, e.UsersActive, e.ActiveSeconds)
		tw.Flush()
		fmt.Fprintf(tw, "target req/s\tachieved req/s\tok req/s\tchunks/s\tbytes/s\ttokens/s\t\n")
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.0f\t%.1f\t\n", rateOrDash(e.Throughput.TargetRPS),
			e.Throughput.AchievedRPS, e.Throughput.OKRPS, e.Rates.ChunksPerS, e.Rates.BytesPerS, e.Rates.OutputTokensPerS)
		tw.Flush()
		fmt.Fprintf(tw, "ms\tcount\tmin\tmean\tp50\tp90\tp95\tp99\tp99.9\tmax\t\n")
		for _, row := range summaryRows(e) {
			s := row.s
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", row.name, s.Count,
				s.Min, s.Mean, s.P50, s.P90, s.P95, s.P99, s.P999, s.Max)
		}
		tw.Flush()
		if len(e.Counters.Errors) > 0 {
			fmt.Fprintf(out, "errors:")
			for _, k := range e.Counters.errorClasses() {
				fmt.Fprintf(out, " %s=%d", k, e.Counters.Errors[k])
			}
			fmt.Fprintln(out)
		}
	}
	if cmp := rep.Comparison; cmp != nil {
		fmt.Fprintf(out, "\n== target over baseline\n")
		fmt.Fprintf(out, "throughput ratio %.3f\n", cmp.ThroughputRatio)
		fmt.Fprintf(tw, "added ms\tp50\tp90\tp95\tp99\tp99.9\t\n")
		for _, k := range addedKeys {
			a, ok := cmp.Added[k]
			if !ok {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t\n", k)
				continue
			}
			fmt.Fprintf(tw, "%s\t%+.3f\t%+.3f\t%+.3f\t%+.3f\t%+.3f\t\n", k, a.P50, a.P90, a.P95, a.P99, a.P999)
		}
		tw.Flush()
	}
	res := &rep.Resources
	fmt.Fprintf(out, "\n== resources of the process under test (%s)\n", res.Source)
	if res.Source != "none" {
		fmt.Fprintf(tw, "samples\tpeak RSS MiB\tmean CPU %%\tmax goroutines\tRSS slope KiB/s\tleak verdict\t\n")
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%d\t%.2f\t%s\t\n", len(res.Samples), float64(res.PeakRSSBytes)/(1<<20),
			res.MeanCPUPercent, res.MaxGoroutines, res.Leak.SlopeBytesPerS/1024, res.Leak.Verdict)
		tw.Flush()
		o := &res.Operator
		fmt.Fprintf(tw, "target CPU s\tCPU per request us\tRSS per open stream KiB\tmax open streams\t\n")
		fmt.Fprintf(tw, "%.2f\t%.1f\t%s\t%d\t\n", o.CPUSeconds, o.CPUPerRequestUs, perStream(o), o.MaxOpenStreams)
		tw.Flush()
	}
	g := &rep.Generator
	note := ""
	if g.IncludesTarget {
		note = " (includes the embedded proxy and mock)"
	}
	fmt.Fprintf(out, "\ngenerator: %.2f CPU s over %.2f s wall = %.1f%% of one core, GOMAXPROCS %d%s%s\n",
		g.CPUSeconds, g.WallSeconds, g.CPUPercent, g.GOMAXPROCS, g.clientText(), note)
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "WARNING %s\n", w)
	}
	for _, ch := range rep.SLO.Checks {
		verdict := "PASS"
		if !ch.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(out, "SLO %s: %s (limit %g, actual %g)\n", ch.Name, verdict, ch.Limit, ch.Actual)
	}
}

// tierLabel names the load that ran: a tier as defined, or a custom load
// and the tier its other settings came from.
func tierLabel(c *Config) string {
	if c.Tier == "custom" && c.FromTier != "" {
		return fmt.Sprintf("custom load (other settings from tier %s, scale %g)", c.FromTier, c.Scale)
	}
	return fmt.Sprintf("tier %s (scale %g)", c.Tier, c.Scale)
}

// summaryRow is one line of a latency table.
type summaryRow struct {
	name string
	s    Summary
}

// summaryRows lists the distributions of e that were measured, each kind
// of request on its own rows.
func summaryRows(e *EndpointReport) []summaryRow {
	all := []summaryRow{
		{"plain latency", e.Plain.Latency}, {"plain latency (uncorrected)", e.Plain.LatencyUncorrected},
		{"stream latency", e.Stream.Latency}, {"stream latency (uncorrected)", e.Stream.LatencyUncorrected},
		{"headers", e.Headers}, {"headers (uncorrected)", e.HeadersUncorrected},
		{"TTFT", e.TTFT}, {"TTFT (uncorrected)", e.TTFTUncorrected},
		{"chunk gap", e.ChunkGap}, {"TPOT", e.TPOT},
	}
	out := all[:0]
	for _, r := range all {
		if r.s.Count > 0 {
			out = append(out, r)
		}
	}
	return out
}

// perStream shows the memory per open stream, or a dash when the number of
// open streams did not vary enough to fit it.
func perStream(o *OperatorFigures) string {
	if o.RSSPerOpenStreamBytes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", o.RSSPerOpenStreamBytes/1024)
}

func rateOrDash(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", r)
}

// clientText names the generator's HTTP client for the reports ("" for
// reports of versions that did not say).
func (g *GeneratorReport) clientText() string {
	switch {
	case g.Client == "":
		return ""
	case g.Loops > 0:
		return fmt.Sprintf(", %s client on %d loops", g.Client, g.Loops)
	}
	return ", " + g.Client + " client"
}
