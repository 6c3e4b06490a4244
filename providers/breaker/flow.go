package breaker

import "time"

// Allow asks to send one request. When it says no, answer the client (or
// move to a fallback) at once; RetryAfter tells for how long.
func (b *Breaker) Allow(now time.Time) (Ticket, bool) {
	// Generation before state: if a transition slips in between, the ticket
	// carries the older generation and Done ignores it.
	if g := b.gen.Load(); State(b.state.Load()) == Closed {
		return Ticket{gen: g}, true
	}
	b.mu.Lock()
	from := b.st
	if b.st == Open {
		if now.UnixNano() < b.openUntil {
			b.mu.Unlock()
			return Ticket{}, false
		}
		b.setState(HalfOpen)
		b.probesOut, b.probesOK = 0, 0
	}
	var t Ticket
	ok := false
	switch b.st {
	case Closed:
		t, ok = Ticket{gen: b.g}, true
	case HalfOpen:
		nowN := now.UnixNano()
		if b.probesOut >= b.opts.HalfOpenProbes && nowN-b.probeAt >= int64(b.opts.ProbeTimeout) {
			// The outstanding probes are presumed lost; their tickets go stale.
			b.setState(HalfOpen)
			b.probesOut, b.probesOK = 0, 0
		}
		if b.probesOut < b.opts.HalfOpenProbes {
			b.probesOut++
			b.probeAt = nowN
			t, ok = Ticket{gen: b.g, probe: true}, true
		}
	}
	to := b.st
	b.mu.Unlock()
	b.notify(from, to)
	return t, ok
}

// Done reports the outcome of an allowed request: success false for
// failures that speak about the provider (connect errors, resets, timeouts,
// 5xx). Client errors and 429s of a single key are not provider failures;
// report those with success true, or Abandon the ticket.
func (b *Breaker) Done(t Ticket, success bool) {
	nowN := b.opts.Now().UnixNano()
	b.mu.Lock()
	from := b.st
	if t.gen != b.g || t.probe != (b.st == HalfOpen) {
		b.mu.Unlock()
		return
	}
	if t.probe {
		b.probesOut--
		if !success {
			b.openFor = min(b.openFor*2, b.opts.MaxOpenFor)
			b.trip(nowN)
		} else if b.probesOK++; b.probesOK >= b.opts.HalfOpenProbes {
			b.reset()
		}
	} else {
		b.record(nowN, success)
	}
	to := b.st
	b.mu.Unlock()
	b.notify(from, to)
}

// Abandon returns a ticket without a verdict (the client left before the
// upstream answered), freeing its probe slot if it was a probe.
func (b *Breaker) Abandon(t Ticket) {
	if !t.probe {
		return
	}
	b.mu.Lock()
	if t.gen == b.g {
		b.probesOut--
	}
	b.mu.Unlock()
}

// record counts a closed-state outcome and trips on sustained failure.
func (b *Breaker) record(nowN int64, success bool) {
	epoch := nowN / b.bucketNs
	bk := &b.buckets[int(epoch%int64(len(b.buckets)))]
	if bk.epoch != epoch {
		*bk = bucket{epoch: epoch}
	}
	bk.total++
	if success {
		b.consec = 0
		return
	}
	bk.failed++
	b.consec++
	if cf := b.opts.ConsecutiveFailures; cf > 0 && b.consec >= cf {
		b.trip(nowN)
		return
	}
	total, failed := b.window(epoch)
	if total >= int64(b.opts.MinRequests) && float64(failed) >= b.opts.FailureRatio*float64(total) {
		b.trip(nowN)
	}
}

// window sums the buckets still inside the window ending in epoch.
func (b *Breaker) window(epoch int64) (total, failed int64) {
	oldest := epoch - int64(len(b.buckets)) + 1
	for i := range b.buckets {
		if bk := &b.buckets[i]; bk.epoch >= oldest && bk.epoch <= epoch {
			total += bk.total
			failed += bk.failed
		}
	}
	return total, failed
}

func (b *Breaker) trip(nowN int64) {
	b.setState(Open)
	b.openUntil = nowN + int64(b.openFor)
	b.opens++
}

func (b *Breaker) reset() {
	b.setState(Closed)
	b.openFor = b.opts.OpenFor
	b.consec = 0
	clear(b.buckets)
}

// setState moves to s and starts a new ticket generation. Called with mu held.
func (b *Breaker) setState(s State) {
	b.st = s
	b.g++
	b.gen.Store(b.g)
	b.state.Store(uint32(s))
}

func (b *Breaker) notify(from, to State) {
	if from != to && b.opts.OnStateChange != nil {
		b.opts.OnStateChange(from, to)
	}
}
