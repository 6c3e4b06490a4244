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
}

// Growth counts as a leak only when it is both above this absolute floor
// and above growthFraction of the starting RSS, so allocator noise on a
// small process and page-cache jitter on a big one are not flagged.
const (
	growthFloor    = 1 << 20
	growthFraction = 0.05
	minLeakSamples = 3
)

// leakVerdict fits RSS = a + b*t by least squares over samples taken at or
// after warmup seconds.
func leakVerdict(samples []ResourceSample, warmup float64) LeakReport {
	rep := LeakReport{WarmupSeconds: warmup, Verdict: "insufficient-data"}
	var n, st, sy float64
	for _, s := range samples {
		if s.T >= warmup {
			n++
			st += s.T
			sy += float64(s.RSSBytes)
		}
	}
	rep.Samples = int(n)
	if rep.Samples < minLeakSamples {
		return rep
	}
	mt, my := st/n, sy/n
	var sxy, sxx, tmin, tmax float64
	first := true
	for _, s := range samples {
		if s.T < warmup {
			continue
		}
		dt := s.T - mt
		sxy += dt * (float64(s.RSSBytes) - my)
		sxx += dt * dt
		if first || s.T < tmin {
			tmin = s.T
		}
		if first || s.T > tmax {
			tmax = s.T
		}
		first = false
	}
	if sxx == 0 {
		return rep
	}
	b := sxy / sxx
	a := my - b*mt
	rep.SlopeBytesPerS = b
	rep.StartBytes = a + b*tmin
	rep.GrowthBytes = b * (tmax - tmin)
	rep.Verdict = "stable"
	if rep.GrowthBytes > growthFloor && rep.GrowthBytes > growthFraction*rep.StartBytes {
		rep.Verdict = "growing"
	}
	return rep
}
