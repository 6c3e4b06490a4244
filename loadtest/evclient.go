package loadtest

import (
	"net/url"
	"runtime"
	"time"
)

// evPlan is one phase as the event-loop client runs it.
type evPlan struct {
	users   int
	loops   int // event loops (OS threads), at most users
	perUser int
	start   time.Time
	end     time.Time // no request starts at or after it
	ramp    time.Duration
	warmEnd time.Time
	cutAt   time.Time // requests still running then are cut
	timeout time.Duration
}

// Which client runs a phase (--client): "auto" takes the event-loop client
// (evloop_linux.go) wherever it applies and fasthttp's elsewhere; "epoll"
// insists on the event loop; "fasthttp" never uses it.
const (
	clientAuto     = "auto"
	clientEpoll    = "epoll"
	clientFasthttp = "fasthttp"
)

// evReason says why the event-loop client cannot run cfg's load ("" when
// it can): it speaks closed-loop, unpaced, plain HTTP/1.1 without TLS.
func evReason(cfg *Config) string {
	switch {
	case !evSupported:
		return "not on this platform (Linux only)"
	case cfg.Rate > 0 || cfg.Sweep:
		return "open loop"
	case !cfg.NoPace:
		return "paced users (it needs --no-pace)"
	case cfg.Stream > 0:
		return "streamed requests (it needs --stream 0)"
	case isHTTPS(cfg.Target) || isHTTPS(cfg.Baseline):
		return "TLS"
	}
	return ""
}

func isHTTPS(target string) bool {
	u, err := url.Parse(target)
	return err == nil && u.Scheme == "https"
}

// useEvents reports whether the runner's phases go through the event loop.
func (r *runner) useEvents() bool {
	if r.cfg.Client == clientFasthttp || evReason(r.cfg) != "" {
		return false
	}
	_, real := r.clock.(realClock)
	return real
}

// evLoops is how many event loops (OS threads) run the users: --loops, or
// by default half the Ps, at least one. One loop drives about one request
// per 15-20 µs of CPU, as wrk does; on a machine the generator shares
// with the target, a second loop on two cores took CPU from the target
// and cost more per request (threads preempting each other), not less.
func evLoops(cfg *Config) int {
	if cfg.Loops > 0 {
		return cfg.Loops
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}
