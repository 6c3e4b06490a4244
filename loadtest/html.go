package loadtest

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// writeHTMLFile writes the report as one self-contained page: inline CSS and
// inline SVG charts, nothing fetched from anywhere.
func writeHTMLFile(path string, rep *Report) error {
	page, err := renderHTML(rep)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"}

// percentile points of the latency curve.
var curveQuantiles = []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 98, 99, 99.5, 99.7, 99.9, 99.95, 99.99}

// nines maps a percentile to the x position of the curve: 90 -> 1, 99 -> 2.
func nines(q float64) float64 { return -math.Log10(1 - q/100) }

func ninesLabel(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", 100*(1-math.Pow(10, -v))), "0"), ".")
}

func renderHTML(rep *Report) (string, error) {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>proxy loadtest report</title><style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}.chart{display:block;margin:12px 0;border:1px solid #ddd}
.fail{color:#b00;font-weight:bold}.pass{color:#080;font-weight:bold}</style></head><body>`)
	c := &rep.Config
	fmt.Fprintf(&b, "<h1>proxy loadtest: %s</h1><p>started %s; %s loop; %d users &times; %d requests; cap %.0f s; ramp %.1f s; %.0f%% streamed",
		html.EscapeString(tierLabel(c)), html.EscapeString(rep.StartedAt), html.EscapeString(c.Mode), c.Users, c.Requests,
		c.Seconds.Duration, c.Seconds.Ramp, c.Stream*100)
	if c.Mode == "open" {
		fmt.Fprintf(&b, "; %s arrivals at %.1f req/s", html.EscapeString(c.Arrival), c.Rate)
	}
	b.WriteString("</p>")
	if len(rep.MergedFrom) > 0 {
		fmt.Fprintf(&b, "<p>merged from: %s</p>", html.EscapeString(strings.Join(rep.MergedFrom, ", ")))
		writeSourcesHTML(&b, rep.Sources)
	}

	latency := make([]series, 0, 4)
	var throughput []series
	for i := range rep.Endpoints {
		e := &rep.Endpoints[i]
		writeEndpointTables(&b, e)
		color := palette[i%len(palette)]
		// One curve per kind of request (plain, stream) that was measured,
		// corrected solid, uncorrected dashed.
		for k, kind := range []string{"plain", "stream"} {
			h, err := importHist(e.Histograms[kind+"_latency"])
			if err != nil {
				return "", fmt.Errorf("html: %w", err)
			}
			if h.TotalCount() == 0 {
				continue
			}
			kc := palette[(2*i+k)%len(palette)]
			latency = append(latency, curve(e.Name+" "+kind, kc, h, false))
			hu, err := importHist(e.Histograms[kind+"_latency_uncorrected"])
			if err != nil {
				return "", fmt.Errorf("html: %w", err)
			}
			latency = append(latency, curve(e.Name+" "+kind+" uncorrected", kc, hu, true))
		}
		ok := series{name: e.Name + " ok req/s", color: color}
		errs := series{name: e.Name + " errors/s", color: "#d62728", dashed: i > 0}
		prev := 0.0
		for _, bk := range e.Timeline {
			dt := bk.T - prev
			prev = bk.T
			if dt <= 0 {
				continue
			}
			ok.xs, ok.ys = append(ok.xs, bk.T), append(ok.ys, float64(bk.Completed)/dt)
			errs.xs, errs.ys = append(errs.xs, bk.T), append(errs.ys, float64(bk.Errors)/dt)
		}
		throughput = append(throughput, ok, errs)
	}
	if cmp := rep.Comparison; cmp != nil {
		fmt.Fprintf(&b, "<h2>Target over baseline</h2><p>throughput ratio %.3f</p><table><tr><th>added ms</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th></tr>",
			cmp.ThroughputRatio)
		for _, k := range addedKeys {
			a, ok := cmp.Added[k]
			if !ok {
				fmt.Fprintf(&b, "<tr><td>%s</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>", k)
				continue
			}
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%+.3f</td><td>%+.3f</td><td>%+.3f</td><td>%+.3f</td><td>%+.3f</td></tr>",
				k, a.P50, a.P90, a.P95, a.P99, a.P999)
		}
		b.WriteString("</table>")
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(&b, "<p class=warn>warning: %s</p>", html.EscapeString(w))
	}
	writeResourceTable(&b, rep)

	b.WriteString("<h2>Charts</h2>")
	b.WriteString(lineChart("Latency by percentile", "percentile", "ms", latency, ninesLabel))
	b.WriteString(lineChart("Throughput and errors over time", "seconds", "per second", throughput, nil))
	tgt := &rep.Endpoints[0]
	b.WriteString(lineChart("Latency over time ("+tgt.Name+", corrected, per interval)", "seconds", "ms", latencyOverTime(tgt), nil))
	b.WriteString(lineChart("Per-request latency ("+tgt.Name+", sample of "+fmt.Sprint(len(tgt.Scatter))+")", "seconds (due time)", "ms",
		scatterSeries(tgt), nil))
	rss := series{name: "RSS MiB", color: palette[0]}
	for _, s := range rep.Resources.Samples {
		rss.xs, rss.ys = append(rss.xs, s.T), append(rss.ys, float64(s.RSSBytes)/(1<<20))
	}
	rssSeries := []series{rss}
	if l := rep.Resources.Leak; l.Verdict != "insufficient-data" && len(rss.xs) > 0 {
		t0 := math.Max(l.WarmupSeconds, rss.xs[0])
		t1 := rss.xs[len(rss.xs)-1]
		fit := series{name: "fit after warm-up (" + l.Verdict + ")", color: "#d62728", dashed: true,
			xs: []float64{t0, t1}, ys: []float64{l.StartBytes / (1 << 20), (l.StartBytes + l.SlopeBytesPerS*(t1-t0)) / (1 << 20)}}
		rssSeries = append(rssSeries, fit)
	}
	b.WriteString(lineChart("RSS of the process under test ("+rep.Resources.Source+")", "seconds", "MiB", rssSeries, nil))
	cpu := series{name: "CPU % (100 = one core)", color: palette[1]}
	for _, smp := range rep.Resources.Samples {
		cpu.xs, cpu.ys = append(cpu.xs, smp.T), append(cpu.ys, smp.CPUPercent)
	}
	b.WriteString(lineChart("CPU of the process under test ("+rep.Resources.Source+")", "seconds", "%", []series{cpu}, nil))
	ttft, err := importHist(rep.Endpoints[0].Histograms["ttft"])
	if err != nil {
		return "", fmt.Errorf("html: %w", err)
	}
	edges, counts := histBins(ttft, 30)
	b.WriteString(barChart("TTFT distribution ("+rep.Endpoints[0].Name+")", "ms", "requests", palette[0], edges, counts))
	gaps, err := importHist(rep.Endpoints[0].Histograms["chunk_gap"])
	if err != nil {
		return "", fmt.Errorf("html: %w", err)
	}
	edges, counts = histBins(gaps, 30)
	b.WriteString(barChart("Inter-chunk gap distribution ("+rep.Endpoints[0].Name+")", "ms", "gaps", palette[2], edges, counts))
	b.WriteString("</body></html>\n")
	return b.String(), nil
}

// latencyOverTime is the p50, p90 and p99 of each interval that had
// answers.
func latencyOverTime(e *EndpointReport) []series {
	out := []series{{name: "p50", color: palette[0]}, {name: "p90", color: palette[1]}, {name: "p99", color: "#d62728"}}
	for _, bk := range e.Timeline {
		if bk.Completed == 0 {
			continue
		}
		for i, v := range []float64{bk.P50Ms, bk.P90Ms, bk.P99Ms} {
			out[i].xs, out[i].ys = append(out[i].xs, bk.T), append(out[i].ys, v)
		}
	}
	return out
}

// scatterSeries splits the sample into ok plain, ok streamed and failed
// requests.
func scatterSeries(e *EndpointReport) []series {
	out := []series{{name: "plain", color: palette[0], dots: true}, {name: "stream", color: palette[1], dots: true},
		{name: "failed", color: "#d62728", dots: true}}
	for _, p := range e.Scatter {
		i := 0
		switch {
		case !p.OK:
			i = 2
		case p.Stream:
			i = 1
		}
		out[i].xs, out[i].ys = append(out[i].xs, p.T), append(out[i].ys, p.LatencyMs)
	}
	return out
}

// curve samples the percentile curve of h in milliseconds.
func curve(name, color string, h *hdr.Histogram, dashed bool) series {
	s := series{name: name, color: color, dashed: dashed}
	if h.TotalCount() == 0 {
		return s
	}
	for _, q := range curveQuantiles {
		// Past 1/count the histogram has nothing new to say.
		if q > 0 && 1-q/100 < 1/float64(h.TotalCount()) {
			break
		}
		s.xs = append(s.xs, nines(q))
		s.ys = append(s.ys, usToMs(h.ValueAtQuantile(q)))
	}
	return s
}

// histBins regroups h (µs) into n equal bins in ms between its minimum and
// its 99.9th percentile; slower values land in the last bin.
func histBins(h *hdr.Histogram, n int) ([]float64, []int64) {
	if h.TotalCount() == 0 {
		return nil, nil
	}
	lo, hi := usToMs(h.Min()), usToMs(h.ValueAtQuantile(99.9))
	if hi <= lo {
		hi = lo + 0.001
	}
	edges := make([]float64, n+1)
	for i := range edges {
		edges[i] = lo + (hi-lo)*float64(i)/float64(n)
	}
	counts := make([]int64, n)
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		mid := usToMs(bar.From+bar.To) / 2
		i := int((mid - lo) / (hi - lo) * float64(n))
		i = min(max(i, 0), n-1)
		counts[i] += bar.Count
	}
	return edges, counts
}

func writeEndpointTables(b *strings.Builder, e *EndpointReport) {
	fmt.Fprintf(b, "<h2>%s <small>%s</small></h2>", html.EscapeString(e.Name), html.EscapeString(e.URL))
	fmt.Fprintf(b, "<table><tr><th>sent</th><th>ok</th><th>errors</th><th>error rate</th><th>streamed</th><th>truncated</th><th>late sends</th><th>target req/s</th><th>achieved req/s</th><th>chunks/s</th><th>bytes/s</th><th>tokens/s</th></tr>"+
		"<tr><td>%d</td><td>%d</td><td>%d</td><td>%.4f</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%.1f</td><td>%.1f</td><td>%.0f</td><td>%.1f</td></tr></table>",
		e.Counters.Sent, e.Counters.OK, e.Counters.ErrorTotal(), e.ErrorRate, e.Counters.Streamed, e.Counters.Truncated,
		e.Counters.Late, rateOrDash(e.Throughput.TargetRPS), e.Throughput.AchievedRPS, e.Rates.ChunksPerS, e.Rates.BytesPerS, e.Rates.OutputTokensPerS)
	b.WriteString("<table><tr><th>ms</th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>")
	for _, row := range summaryRows(e) {
		s := row.s
		fmt.Fprintf(b, "<tr><td>%s</td><td>%d</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td></tr>",
			row.name, s.Count, s.Min, s.Mean, s.P50, s.P90, s.P95, s.P99, s.P999, s.Max)
	}
	b.WriteString("</table>")
	if len(e.Counters.Errors) > 0 {
		b.WriteString("<p>errors:")
		for _, k := range e.Counters.errorClasses() {
			fmt.Fprintf(b, " %s=%d", html.EscapeString(k), e.Counters.Errors[k])
		}
		b.WriteString("</p>")
	}
}

func writeResourceTable(b *strings.Builder, rep *Report) {
	r := &rep.Resources
	fmt.Fprintf(b, "<h2>Resources (%s)</h2><table><tr><th>samples</th><th>peak RSS MiB</th><th>mean CPU %%</th><th>max goroutines</th><th>RSS slope KiB/s</th><th>leak verdict</th></tr>"+
		"<tr><td>%d</td><td>%.1f</td><td>%.1f</td><td>%d</td><td>%.2f</td><td>%s</td></tr></table>",
		html.EscapeString(r.Source), len(r.Samples), float64(r.PeakRSSBytes)/(1<<20), r.MeanCPUPercent, r.MaxGoroutines,
		r.Leak.SlopeBytesPerS/1024, html.EscapeString(r.Leak.Verdict))
	o := &r.Operator
	fmt.Fprintf(b, "<table><tr><th>target CPU s</th><th>CPU per request µs</th><th>RSS per open stream KiB</th><th>max open streams</th></tr>"+
		"<tr><td>%.2f</td><td>%.1f</td><td>%s</td><td>%d</td></tr></table>", o.CPUSeconds, o.CPUPerRequestUs, perStream(o), o.MaxOpenStreams)
	g := &rep.Generator
	fmt.Fprintf(b, "<p>generator: %.2f CPU s over %.2f s wall (%.1f%% of one core), GOMAXPROCS %d%s", g.CPUSeconds, g.WallSeconds, g.CPUPercent,
		g.GOMAXPROCS, html.EscapeString(g.clientText()))
	if g.IncludesTarget {
		b.WriteString(", includes the embedded proxy and mock")
	}
	b.WriteString("</p>")
	for _, ch := range rep.SLO.Checks {
		cls, v := "pass", "PASS"
		if !ch.Pass {
			cls, v = "fail", "FAIL"
		}
		fmt.Fprintf(b, `<p>SLO %s: <span class="%s">%s</span> (limit %g, actual %g)</p>`, html.EscapeString(ch.Name), cls, v, ch.Limit, ch.Actual)
	}
	if rep.Regression != nil {
		writeRegressionHTML(b, rep.Regression)
	}
}

// writeSourcesHTML lists the runs of a merged report.
func writeSourcesHTML(b *strings.Builder, sources []Source) {
	if len(sources) == 0 {
		return
	}
	b.WriteString("<table><tr><th>source</th><th>host</th><th>started at</th><th>offset s</th><th>sent</th><th>ok</th></tr>")
	for _, s := range sources {
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%.3f</td><td>%d</td><td>%d</td></tr>", html.EscapeString(s.File),
			html.EscapeString(s.Host), html.EscapeString(s.StartedAt), s.OffsetSeconds, s.Sent, s.OK)
	}
	b.WriteString("</table>")
}

// writeRegressionHTML shows the table of changes of --compare-to.
func writeRegressionHTML(b *strings.Builder, r *RegressionReport) {
	fmt.Fprintf(b, "<h2>Compared with %s</h2><table><tr><th>figure</th><th>before</th><th>after</th><th>change</th><th>threshold</th><th>verdict</th></tr>",
		html.EscapeString(r.Previous))
	for _, f := range r.Figures {
		before, after, change, limit := f.cells()
		cls := ""
		if f.Verdict == verdictWorse {
			cls = ` class="fail"`
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td%s>%s</td></tr>", html.EscapeString(f.Name),
			html.EscapeString(before), html.EscapeString(after), change, limit, cls, f.Verdict)
	}
	verdict := `<span class="pass">PASS</span>`
	if !r.Pass {
		verdict = `<span class="fail">FAIL</span>`
	}
	fmt.Fprintf(b, "</table><p>regression gate: %s</p>", verdict)
}
