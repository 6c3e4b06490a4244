package loadtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// runner executes the load of one run against one or two endpoints.
type runner struct {
	cfg      *Config
	clock    Clock
	eps      []*endpoint // target first, then the baseline if any
	start    time.Time
	progress func(now time.Time) // called every interval; may be nil
	// stats per endpoint that are not held by recorders
	active      []float64
	scheduled   []int64
	seqBase     []int
	usersActive []int64 // most users that sent at least one request in a phase
	// events: the phases run on the event-loop client; evErr is a failure
	// of that client itself (not of a request), under evMu since target
	// and baseline phases may run at once.
	events bool
	evMu   sync.Mutex
	evErr  error
}

// phase is one stretch of load against one endpoint.
type phase struct {
	ep      int
	perUser int // requests each user sends in this phase
	dur     time.Duration
	ramp    time.Duration
	warmup  time.Duration
}

// phases splits the run. With a baseline, target and baseline alternate in
// four phases (T, B, T, B) so slow drift of the machine affects both alike;
// each endpoint gets every user's full request budget over its two phases.
func (r *runner) phases() []phase {
	c := r.cfg
	if len(r.eps) == 1 {
		return []phase{{0, c.Requests, c.Duration, c.Ramp, c.Warmup}}
	}
	n := time.Duration(4)
	first := (c.Requests + 1) / 2
	second := c.Requests - first
	var out []phase
	for i, req := range []int{first, first, second, second} {
		if req > 0 {
			// Only each endpoint's first phase is cold: pools and caches
			// stay filled for its second.
			warm := c.Warmup / n
			if i >= 2 {
				warm = 0
			}
			out = append(out, phase{i % 2, req, c.Duration / n, c.Ramp / n, warm})
		}
	}
	return out
}

// streamed spreads the streamed fraction evenly over the sequence numbers:
// request seq is streamed when floor((seq+1)*f) passes an integer.
func streamed(seq int, f float64) bool {
	return int(float64(seq+1)*f) > int(float64(seq)*f)
}

// run executes all phases and then stops; ctx cancellation ends it early.
func (r *runner) run(ctx context.Context) {
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(done) })
	defer stop()
	r.active = make([]float64, len(r.eps))
	r.scheduled = make([]int64, len(r.eps))
	r.seqBase = make([]int, len(r.eps))
	r.usersActive = make([]int64, len(r.eps))

	tickDone := make(chan struct{})
	var tickWG sync.WaitGroup
	if r.progress != nil {
		tickWG.Add(1)
		go func() {
			defer tickWG.Done()
			t := time.NewTicker(r.cfg.Interval)
			defer t.Stop()
			for {
				select {
				case now := <-t.C:
					r.progress(now)
				case <-tickDone:
					return
				}
			}
		}()
	}
	if r.cfg.Concurrent && len(r.eps) == 2 {
		// Both endpoints at once, each over the whole duration.
		var wg sync.WaitGroup
		for i := range r.eps {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r.runPhase(phase{i, r.cfg.Requests, r.cfg.Duration, r.cfg.Ramp, r.cfg.Warmup}, done)
			}(i)
		}
		wg.Wait()
	} else {
		for _, p := range r.phases() {
			select {
			case <-done:
			default:
				r.runPhase(p, done)
			}
		}
	}
	close(tickDone)
	tickWG.Wait()
}

func (r *runner) runPhase(p phase, done <-chan struct{}) {
	ep := r.eps[p.ep]
	start := r.clock.Now()
	end := start.Add(p.dur)
	users := r.cfg.Users
	total := p.perUser * users
	var wg sync.WaitGroup
	var active atomic.Int64
	if r.cfg.Rate > 0 {
		tickets := make(chan ticket, users)
		sched := NewSchedule(r.cfg.Rate, p.ramp, Gaps{Kind: r.cfg.Arrival, Shape: r.cfg.GammaShape}, r.cfg.Seed+uint64(r.seqBase[p.ep]))
		var issued atomic.Int64
		var paceWG sync.WaitGroup
		paceWG.Add(1)
		go func() {
			defer paceWG.Done()
			issued.Store(int64(pace(r.clock, start, end, sched, total, tickets, done)))
		}()
		for u := 0; u < users; u++ {
			wg.Add(1)
			go func(u int) {
				defer wg.Done()
				w := newWorker(ep, ep.recs[u%len(ep.recs)])
				w.warmEnd = start.Add(p.warmup)
				w.cutAt = end.Add(r.cfg.Grace)
				w.nextBody = u
				defer w.release()
				sent := false
				for t := range tickets {
					// A ticket still queued at the cap is not sent: the cap
					// bounds the run, and the report counts it as scheduled
					// but not sent.
					now := time.Now()
					if !now.Before(end) {
						continue
					}
					if !sent {
						sent = true
						active.Add(1)
					}
					w.do(ep, streamed(r.seqBase[p.ep]+t.seq, r.cfg.Stream), t.intended, now.Add(r.cfg.Timeout))
				}
			}(u)
		}
		wg.Wait()
		paceWG.Wait()
		r.scheduled[p.ep] += issued.Load()
	} else if r.events {
		act, err := r.runEvents(p, ep, start, end, done)
		active.Store(act)
		if err != nil {
			r.evMu.Lock()
			r.evErr = errors.Join(r.evErr, err)
			r.evMu.Unlock()
		}
		r.scheduled[p.ep] += int64(total)
	} else {
		for u := 0; u < users; u++ {
			wg.Add(1)
			go func(u int) {
				defer wg.Done()
				w := newWorker(ep, ep.recs[u%len(ep.recs)])
				w.warmEnd = start.Add(p.warmup)
				w.cutAt = end.Add(r.cfg.Grace)
				w.nextBody = u
				defer w.release()
				plan := planUser(u, users, p.perUser, start, end, p.ramp, !r.cfg.NoPace)
				var prevEnd time.Time
				n := runUser(r.clock, plan, end, done, func(k int, due time.Time) {
					// Interleave users in the sequence so the streamed
					// fraction holds at every moment of the run.
					seq := r.seqBase[p.ep] + k*users + u
					// Late because the previous answer ended after this
					// request was due, not because a timer woke late.
					w.heldBack = prevEnd.After(due)
					// A closed-loop user cannot send before its answer is
					// in, so latency counts from the send: the pace is the
					// tier's plan, not a schedule the target fell behind.
					// (Open loops count from the due time; a closed loop's
					// stalls are flagged by the warnings instead.)
					now := time.Now()
					w.do(ep, streamed(seq, r.cfg.Stream), now, now.Add(r.cfg.Timeout))
					prevEnd = w.s.end
				})
				if n > 0 {
					active.Add(1)
				}
			}(u)
		}
		wg.Wait()
		r.scheduled[p.ep] += int64(total)
	}
	r.usersActive[p.ep] = max(r.usersActive[p.ep], active.Load())
	r.active[p.ep] += r.clock.Now().Sub(start).Seconds()
	r.seqBase[p.ep] += total
}

// runEvents runs a closed-loop, unpaced, plain phase on the event-loop
// client and returns how many users sent a request.
func (r *runner) runEvents(p phase, ep *endpoint, start, end time.Time, done <-chan struct{}) (int64, error) {
	return runEvClient(ep, evPlan{users: r.cfg.Users, loops: evLoops(r.cfg), perUser: p.perUser,
		start: start, end: end, ramp: p.ramp, warmEnd: start.Add(p.warmup), cutAt: end.Add(r.cfg.Grace),
		timeout: r.cfg.Timeout}, done)
}

func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// snapshot merges the recorders of endpoint i.
func (r *runner) snapshot(i int) (hists, Counters) {
	h := newHists()
	c := Counters{Errors: map[string]int64{}}
	for _, rec := range r.eps[i].recs {
		rec.mergeInto(&h, &c)
	}
	return h, c
}
