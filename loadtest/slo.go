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
// Latency limits use the corrected latency, which is the one a user feels.
func evaluateSLO(c *Config, target *EndpointReport) SLOReport {
	r := SLOReport{Checks: []SLOCheck{}, Pass: true}
	add := func(name string, limit, actual float64) {
		ok := actual <= limit
		r.Checks = append(r.Checks, SLOCheck{Name: name, Limit: limit, Actual: actual, Pass: ok})
		r.Pass = r.Pass && ok
	}
	if c.MaxErrorRate >= 0 {
		add("error_rate", c.MaxErrorRate, target.ErrorRate)
	}
	if c.MaxP99 > 0 {
		add("p99_ms", float64(c.MaxP99.Microseconds())/1000, target.Latency.P99)
	}
	if c.MaxTTFTP99 > 0 {
		add("ttft_p99_ms", float64(c.MaxTTFTP99.Microseconds())/1000, target.TTFT.P99)
	}
	return r
}
