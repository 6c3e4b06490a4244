package loadtest

import "fmt"

// warnings names what makes the figures of rep less than they seem.
func warnings(cfg *Config, rep *Report) []string {
	out := []string{}
	for i := range rep.Endpoints {
		e := &rep.Endpoints[i]
		c := &e.Counters
		if c.OK == 0 {
			out = append(out, fmt.Sprintf("%s: no request succeeded (%d sent, errors %s, %d cut at the cap)",
				e.Name, c.Sent, errorList(c), c.CutAtCap))
		}
		if c.CutAtCap > 0 {
			out = append(out, fmt.Sprintf("%s: %d requests were still running --grace after the cap and were cut (not counted as sent or as errors)",
				e.Name, c.CutAtCap))
		}
		if unsent := e.Throughput.Scheduled - c.Sent - c.CutAtCap; unsent > 0 {
			why := "the users were still waiting for answers"
			if cfg.Rate > 0 {
				why = "all --users workers were busy with slower answers"
			}
			out = append(out, fmt.Sprintf("%s: %d of %d scheduled requests were not sent before the cap: %s",
				e.Name, unsent, e.Throughput.Scheduled, why))
		}
		if cfg.Rate > 0 {
			continue
		}
		// A closed loop slows down with the target: a stall delays only the
		// requests in flight, and the ones that would have been sent meanwhile
		// never exist. Say so when it happened.
		unc := e.LatencyUncorrected
		if unc.Count > 0 && unc.Max > 1000 && unc.Max > 10*unc.P50 {
			out = append(out, fmt.Sprintf("%s: closed loop saw a stall (slowest answer %.0f ms, p50 %.1f ms); a closed loop hides how many requests a stall delays: run open loop (--rate) to measure it",
				e.Name, unc.Max, unc.P50))
		} else if c.HeldBack*100 > c.Sent {
			// Users fell behind their pace on more than 1% of requests.
			out = append(out, fmt.Sprintf("%s: closed loop: %d requests were due before the user's previous answer had ended (p99 %.1f ms): answers take longer than the tier's pace, so its users send fewer requests than planned; use more users (-c) or an open loop (-r) for the full load",
				e.Name, c.HeldBack, unc.P99))
		}
	}
	return out
}

func errorList(c *Counters) string {
	s := ""
	for _, k := range c.errorClasses() {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", k, c.Errors[k])
	}
	return s
}
