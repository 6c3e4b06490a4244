package loadtest

// LeakReport judges memory growth from the trend of RSS after warm-up, not
// from its peak: a server that allocates a large pool once has a high peak
// and a flat line, a leaking one has a rising line.
type LeakReport struct {
	WarmupSeconds  float64 `json:"warmup_s"`
	Samples        int     `json:"samples"`
	SlopeBytesPerS float64 `json:"slope_bytes_per_s"`
	// GrowthBytes is the fitted RSS increase over the post-warm-up window.
	GrowthBytes float64 `json:"growth_bytes"`
	// StartBytes is the fitted RSS at the start of that window.
	StartBytes float64 `json:"start_bytes"`
	Verdict    string  `json:"verdict"` // "stable", "growing" or "insufficient-data"
	// LevelledOff: RSS grew after the warm-up but was flat in the second
	// half of the window, so the verdict is stable.
	LevelledOff bool `json:"levelled_off"`
	// LoadAccounted: the number of open streams varied and was fitted as a
	// second term, so memory that follows the load is not counted as growth.
	LoadAccounted bool `json:"load_accounted"`
}

// Growth counts as a leak only when it is both above this absolute floor
// and above growthFraction of the starting RSS, so allocator noise on a
// small process and page-cache jitter on a big one are not flagged.
const (
	growthFloor    = 1 << 20
	growthFraction = 0.05
	minLeakSamples = 3
)

// line is a least-squares fit RSS = a + b*t (+ c*open streams) over the
// samples at or after from. When the number of open streams varies, it is
// a second regressor: memory that follows the load is not a trend in time.
type line struct {
	n          int
	a, b, c    float64
	meanOpen   float64
	tmin, tmax float64
	streams    bool // c was fitted
}

// at is the fitted RSS at time t with the mean number of open streams.
func (l line) at(t float64) float64 { return l.a + l.b*t + l.c*l.meanOpen }

func fitLine(samples []ResourceSample, from float64) (line, bool) {
	var l line
	var st, so, sy float64
	first := true
	for _, s := range samples {
		if s.T < from {
			continue
		}
		l.n++
		st += s.T
		so += float64(s.OpenStreams)
		sy += float64(s.RSSBytes)
		if first || s.T < l.tmin {
			l.tmin = s.T
		}
		if first || s.T > l.tmax {
			l.tmax = s.T
		}
		first = false
	}
	if l.n < minLeakSamples {
		return l, false
	}
	n := float64(l.n)
	mt, mo, my := st/n, so/n, sy/n
	var s11, s22, s12, s1y, s2y float64
	for _, s := range samples {
		if s.T < from {
			continue
		}
		x1, x2, y := s.T-mt, float64(s.OpenStreams)-mo, float64(s.RSSBytes)-my
		s11 += x1 * x1
		s22 += x2 * x2
		s12 += x1 * x2
		s1y += x1 * y
		s2y += x2 * y
	}
	if s11 == 0 {
		return l, false
	}
	l.meanOpen = mo
	l.b = s1y / s11
	// Time and load that move together cannot be told apart: then the
	// plain trend in time stands.
	if det := s11*s22 - s12*s12; s22 > 0 && det > 1e-6*s11*s22 {
		l.b = (s22*s1y - s12*s2y) / det
		l.c = (s11*s2y - s12*s1y) / det
		l.streams = true
	}
	l.a = my - l.b*mt - l.c*mo
	return l, true
}

// grows reports whether a fitted growth is a leak by the thresholds.
func grows(growth, start float64) bool {
	return growth > growthFloor && growth > growthFraction*start
}

// leakVerdict fits RSS over the samples taken at or after warmup seconds.
// Memory that rose and then levelled off (pools and caches filling after
// the warm-up) is not a leak: growth counts only when the second half of
// that window still rises.
func leakVerdict(samples []ResourceSample, warmup float64) LeakReport {
	rep := LeakReport{WarmupSeconds: warmup, Verdict: "insufficient-data"}
	l, ok := fitLine(samples, warmup)
	rep.Samples = l.n
	if !ok {
		return rep
	}
	rep.SlopeBytesPerS = l.b
	rep.StartBytes = l.at(l.tmin)
	rep.GrowthBytes = l.b * (l.tmax - l.tmin)
	rep.LoadAccounted = l.streams
	rep.Verdict = "stable"
	if !grows(rep.GrowthBytes, rep.StartBytes) {
		return rep
	}
	mid := (l.tmin + l.tmax) / 2
	if late, ok := fitLine(samples, mid); ok {
		lateGrowth := late.b * (l.tmax - l.tmin) // at the late slope, over the whole window
		if !grows(lateGrowth, rep.StartBytes) {
			rep.LevelledOff = true
			return rep
		}
	}
	rep.Verdict = "growing"
	return rep
}
