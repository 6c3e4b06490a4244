package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// limits are the thresholds of the gate.
type limits struct {
	timePct, bytesPct, alpha float64
	allowMissing             bool
}

// verdict is the judgement of one row.
type verdict struct {
	row
	change   float64 // percent
	limit    string
	regress  bool
	decision string
}

// judge decides each row: allocs/op may not grow at all (they are counts,
// not samples of noise); sec/op and B/op may grow by their percentage, and
// count only when benchstat finds the change significant.
func judge(rows []row, lim limits) []verdict {
	out := make([]verdict, 0, len(rows))
	for _, r := range rows {
		v := verdict{row: r, decision: "ok"}
		if r.hasBase && r.base != 0 {
			v.change = (r.cur - r.base) / r.base * 100
		}
		switch {
		case !r.hasCur:
			v.limit = "must run"
			v.decision = "MISSING"
			v.regress = !lim.allowMissing
		case !r.hasBase:
			v.decision = "new"
		case r.unit == "allocs/op":
			v.limit = "no increase"
			if r.cur > r.base {
				v.decision, v.regress = "REGRESSED", true
			}
		case r.unit == "sec/op" || r.unit == "B/op":
			pct := lim.timePct
			if r.unit == "B/op" {
				pct = lim.bytesPct
			}
			v.limit = fmt.Sprintf("+%g%% at p<%g", pct, lim.alpha)
			significant := r.p >= 0 && r.p < lim.alpha
			switch {
			case v.change > pct && significant:
				v.decision, v.regress = "REGRESSED", true
			case v.change > pct:
				v.decision = "noise"
			case v.change < -pct && significant:
				v.decision = "improved"
			}
		default:
			// A custom metric of a benchmark (b.ReportMetric): shown only.
			v.limit = "-"
		}
		out = append(out, v)
	}
	return out
}

// writeTable prints every verdict and returns whether any regressed.
func writeTable(w io.Writer, vs []verdict) bool {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "benchmark\tunit\tbefore\tafter\tchange\tp\tthreshold\tverdict\n")
	failed := false
	for _, v := range vs {
		before, after, change, p := "-", "-", "-", "-"
		if v.hasBase {
			before = fmt.Sprintf("%.4g", v.base)
		}
		if v.hasCur {
			after = fmt.Sprintf("%.4g", v.cur)
		}
		if v.hasBase && v.hasCur {
			change = fmt.Sprintf("%+.1f%%", v.change)
		}
		if v.p >= 0 {
			p = fmt.Sprintf("%.3f (n=%s)", v.p, v.n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.key(), v.unit, before, after, change, p, v.limit, v.decision)
		failed = failed || v.regress
	}
	tw.Flush()
	return failed
}
