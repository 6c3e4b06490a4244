package loadtest

// SLOCheck is one service-level objective evaluated on the target.
type SLOCheck struct {
	Name   string  `json:"name"`
	Limit  float64 `json:"limit"`
	Actual float64 `json:"actual"`
	Pass   bool    `json:"pass"`
}

// SLOReport lists the checks that were asked for; Pass is true when all
// pass (and when none were asked for).
type SLOReport struct {
	Checks []SLOCheck `json:"checks"`
	Pass   bool       `json:"pass"`
}

// evaluateSLO checks the target endpoint against the configured limits.
// Latency limits use the corrected latency, which is the one a user feels,
// and apply to each kind of request that was sent (plain, stream)
// separately. A run in which nothing succeeded always fails.
func evaluateSLO(c *Config, target *EndpointReport) SLOReport {
	r := SLOReport{Checks: []SLOCheck{}, Pass: true}
	add := func(name string, limit, actual float64, ok bool) {
		r.Checks = append(r.Checks, SLOCheck{Name: name, Limit: limit, Actual: actual, Pass: ok})
		r.Pass = r.Pass && ok
	}
	atMost := func(name string, limit, actual float64) { add(name, limit, actual, actual <= limit) }
	if target.Counters.OK == 0 {
		add("any_ok", 1, 0, false)
	}
	if c.MaxErrorRate >= 0 {
		atMost("error_rate", c.MaxErrorRate, target.ErrorRate)
	}
	if c.MaxP99 > 0 {
		limit := float64(c.MaxP99.Microseconds()) / 1000
		for _, k := range []struct {
			name string
			s    Summary
		}{{"plain", target.Plain.Latency}, {"stream", target.Stream.Latency}} {
			if k.s.Count > 0 {
				atMost("p99_ms."+k.name, limit, k.s.P99)
			}
		}
	}
	if c.MaxTTFTP99 > 0 {
		atMost("ttft_p99_ms", float64(c.MaxTTFTP99.Microseconds())/1000, target.TTFT.P99)
	}
	return r
}
