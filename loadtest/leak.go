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
}

// Growth counts as a leak only when it is both above this absolute floor
// and above growthFraction of the starting RSS, so allocator noise on a
// small process and page-cache jitter on a big one are not flagged.
const (
	growthFloor    = 1 << 20
	growthFraction = 0.05
	minLeakSamples = 3
)

// line is a least-squares fit RSS = a + b*t over the samples at or after
// from.
type line struct {
	n          int
	a, b       float64
	tmin, tmax float64
}

func fitLine(samples []ResourceSample, from float64) (line, bool) {
	var l line
	var st, sy float64
	first := true
	for _, s := range samples {
		if s.T < from {
			continue
		}
		l.n++
		st += s.T
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
	mt, my := st/n, sy/n
	var sxy, sxx float64
	for _, s := range samples {
		if s.T >= from {
			dt := s.T - mt
			sxy += dt * (float64(s.RSSBytes) - my)
			sxx += dt * dt
		}
	}
	if sxx == 0 {
		return l, false
	}
	l.b = sxy / sxx
	l.a = my - l.b*mt
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
	rep.StartBytes = l.a + l.b*l.tmin
	rep.GrowthBytes = l.b * (l.tmax - l.tmin)
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
