package loadtest

import "time"

// userPlan is the schedule of one closed-loop user: it joins at first and
// intends one request every `every` from then on, so that its requests are
// spread over the rest of the phase whatever the target's speed.
type userPlan struct {
	first    time.Time
	every    time.Duration
	requests int
}

// planUser places user u of n: users join evenly over the ramp, and each
// paces its own requests over the time left between its join and end (or,
// unpaced, sends them back to back: every is 0).
func planUser(u, n, requests int, start, end time.Time, ramp time.Duration, paced bool) userPlan {
	first := start.Add(ramp * time.Duration(u) / time.Duration(n))
	every := time.Duration(0)
	if requests > 0 && paced {
		every = end.Sub(first) / time.Duration(requests)
	}
	return userPlan{first: first, every: every, requests: requests}
}

// runUser sends the plan's requests: request k is due at first + k*every and
// starts when both its due time has come and the previous answer is in (do
// returns only when the answer is complete). Unpaced (every 0), a request
// is due when it is sent. No request starts at or after end. It returns
// how many requests were sent.
func runUser(clock Clock, p userPlan, end time.Time, done <-chan struct{}, do func(k int, due time.Time)) int {
	for k := 0; k < p.requests; k++ {
		due := p.first.Add(p.every * time.Duration(k))
		if !clock.SleepUntil(due, done) || !clock.Now().Before(end) {
			return k
		}
		if p.every == 0 && k > 0 {
			due = clock.Now()
		}
		do(k, due)
	}
	return p.requests
}
