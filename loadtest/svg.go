package loadtest

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	name   string
	color  string
	xs, ys []float64
	dashed bool
	dots   bool // points without a line (a scatter)
}

const (
	chartW, chartH = 720, 300
	padL, padR     = 70, 20
	padT, padB     = 36, 48
)

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	// The last tick reaches or passes hi, so a y axis scaled to it holds
	// every point.
	var out []float64
	for v := math.Floor(lo/step) * step; ; v += step {
		out = append(out, v)
		if v >= hi-step*1e-9 {
			return out
		}
	}
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.2g", v)
}

// lineChart renders series as an inline SVG with axes, ticks and a legend.
// xLabel formats x tick values (nil: plain numbers); integer x ticks are
// used when it is given, for axes such as "nines" where only whole values
// read well.
func lineChart(title, xName, yName string, ss []series, xLabel func(float64) string) string {
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range ss {
		for i := range s.xs {
			xmin, xmax = math.Min(xmin, s.xs[i]), math.Max(xmax, s.xs[i])
			ymax = math.Max(ymax, s.ys[i])
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	if ymax <= 0 {
		ymax = 1
	}
	yt := niceTicks(0, ymax, 5)
	ymax = yt[len(yt)-1]
	xt := niceTicks(xmin, xmax, 6)
	if xLabel == nil {
		xLabel = fmtTick
	} else {
		xt = xt[:0]
		for v := math.Ceil(xmin); v <= xmax; v++ {
			xt = append(xt, v)
		}
	}
	px := func(x float64) float64 { return padL + (x-xmin)/(xmax-xmin)*(chartW-padL-padR) }
	py := func(y float64) float64 { return chartH - padB - y/ymax*(chartH-padT-padB) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
	for _, v := range yt {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>`, padL-6, y+4, fmtTick(v))
	}
	for _, v := range xt {
		if v < xmin-1e-9 || v > xmax+1e-9 {
			continue
		}
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>`, x, x, chartH-padB, chartH-padB+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>`, x, chartH-padB+18, html.EscapeString(xLabel(v)))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, padL, chartW-padR, chartH-padB, chartH-padB)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, padL, padL, padT, chartH-padB)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="middle">%s</text>`, (chartW+padL)/2, chartH-8, html.EscapeString(xName))
	fmt.Fprintf(&b, `<text x="14" y="%d" font-size="12" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`,
		(chartH)/2, chartH/2, html.EscapeString(yName))
	for i, s := range ss {
		if len(s.xs) == 0 {
			continue
		}
		var pts strings.Builder
		for j := range s.xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.xs[j]), py(s.ys[j]))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if s.dots {
			for j := range s.xs {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.6" fill="%s" fill-opacity="0.6"/>`, px(s.xs[j]), py(s.ys[j]), s.color)
			}
		} else {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.color, dash, pts.String())
		}
		if len(s.xs) == 1 && !s.dots {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(s.xs[0]), py(s.ys[0]), s.color)
		}
		lx := chartW - padR - 190
		ly := padT + 4 + i*16
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="4" fill="%s"/>`, lx, ly, s.color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%s</text>`, lx+16, ly+6, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// barChart renders counts over contiguous bins [edges[i], edges[i+1]).
func barChart(title, xName, yName, color string, edges []float64, counts []int64) string {
	var b strings.Builder
	var maxC int64
	for _, c := range counts {
		maxC = max(maxC, c)
	}
	if len(counts) == 0 || maxC == 0 {
		return lineChart(title+" (no data)", xName, yName, nil, nil)
	}
	yt := niceTicks(0, float64(maxC), 5)
	ymax := yt[len(yt)-1]
	xmin, xmax := edges[0], edges[len(edges)-1]
	if xmax <= xmin {
		xmax = xmin + 1
	}
	px := func(x float64) float64 { return padL + (x-xmin)/(xmax-xmin)*(chartW-padL-padR) }
	py := func(y float64) float64 { return chartH - padB - y/ymax*(chartH-padT-padB) }
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
	for _, v := range yt {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>`, padL-6, y+4, fmtTick(v))
	}
	for i, c := range counts {
		x0, x1 := px(edges[i]), px(edges[i+1])
		y := py(float64(c))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`,
			x0, y, math.Max(x1-x0-1, 1), float64(chartH-padB)-y, color)
	}
	for _, v := range niceTicks(xmin, xmax, 6) {
		if v < xmin-1e-9 || v > xmax+1e-9 {
			continue
		}
		x := px(v)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>`, x, chartH-padB+18, fmtTick(v))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, padL, chartW-padR, chartH-padB, chartH-padB)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="middle">%s</text>`, (chartW+padL)/2, chartH-8, html.EscapeString(xName))
	fmt.Fprintf(&b, `<text x="14" y="%d" font-size="12" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`,
		chartH/2, chartH/2, html.EscapeString(yName))
	b.WriteString(`</svg>`)
	return b.String()
}
