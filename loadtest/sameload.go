package loadtest

import "fmt"

// loadDifferences lists the settings in which two runs' loads differ.
// withTargets also compares the endpoints' URLs (merging needs one
// target; comparing two embedded runs sees a new port each time).
func loadDifferences(a, b *Report, withTargets bool) []string {
	var out []string
	ca, cb := &a.Config, &b.Config
	type setting struct {
		name string
		x, y any
	}
	for _, s := range []setting{
		{"protocol", ca.Protocol, cb.Protocol}, {"mode", ca.Mode, cb.Mode}, {"arrival", ca.Arrival, cb.Arrival},
		{"gamma shape", ca.GammaShape, cb.GammaShape}, {"users", ca.Users, cb.Users},
		{"requests per user", ca.Requests, cb.Requests}, {"rate", ca.Rate, cb.Rate},
		{"duration", ca.Seconds.Duration, cb.Seconds.Duration}, {"ramp", ca.Seconds.Ramp, cb.Seconds.Ramp},
		{"warmup", ca.Seconds.Warmup, cb.Seconds.Warmup}, {"timeout", ca.Seconds.Timeout, cb.Seconds.Timeout},
		{"interval", ca.Seconds.Interval, cb.Seconds.Interval},
		{"stream fraction", ca.Stream, cb.Stream}, {"model", ca.Model, cb.Model},
		{"body file", ca.BodyFile, cb.BodyFile}, {"requests file", ca.RequestsFile, cb.RequestsFile},
		{"prompt words", ca.PromptWords, cb.PromptWords}, {"max tokens", ca.MaxTokens, cb.MaxTokens},
		{"turns", ca.Turns, cb.Turns}, {"tools", ca.Tools, cb.Tools}, {"no pace", ca.NoPace, cb.NoPace},
		{"concurrent baseline", ca.Concurrent, cb.Concurrent}, {"embedded", ca.Embedded, cb.Embedded},
		{"mock profile", ca.MockProfile, cb.MockProfile}, {"mock TTFT", ca.MockTTFT, cb.MockTTFT},
		{"mock TPOT", ca.MockTPOT, cb.MockTPOT}, {"mock tokens", ca.MockTokens, cb.MockTokens},
		{"endpoints", endpointNames(a, false), endpointNames(b, false)},
	} {
		if s.x != s.y {
			out = append(out, fmt.Sprintf("%s %v vs %v", s.name, s.x, s.y))
		}
	}
	if withTargets {
		if x, y := endpointNames(a, true), endpointNames(b, true); x != y {
			out = append(out, fmt.Sprintf("targets %s vs %s", x, y))
		}
	}
	return out
}

// endpointNames lists a report's endpoints, with their URLs if asked.
func endpointNames(r *Report, urls bool) string {
	s := ""
	for _, e := range r.Endpoints {
		if s != "" {
			s += " "
		}
		s += e.Name
		if urls {
			s += "=" + e.URL
		}
	}
	return s
}
