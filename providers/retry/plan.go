package retry

import "time"

// Target is one provider/model pair of a model's route.
type Target struct {
	Provider string
	Model    string
}

// Delivery says whether any byte of the response reached the client. Its
// zero value means "unknown" and is treated like BytesSent: forgetting to
// fill it in can cost a retry but can never corrupt a client's response.
type Delivery uint8

const (
	DeliveryUnknown Delivery = iota
	// NothingSent: the client has received nothing yet; retrying is safe.
	NothingSent
	// BytesSent: status, headers or body bytes went to the client.
	BytesSent
)

// Failure describes a failed attempt to Plan.Fail.
type Failure struct {
	// Err is the transport error, nil when a response status arrived.
	Err error
	// Status is the upstream HTTP status (0 with Err).
	Status int
	// RetryAfter is the upstream's parsed Retry-After, 0 if none.
	RetryAfter time.Duration
	// Delivery must be NothingSent for the attempt to be retried.
	Delivery Delivery
	// Credential: the answer says the key's credential is bad
	// (wire.CredentialRejected), whatever its status.
	Credential bool
}

// class sorts the failure: a rejected credential is the key's fault.
func (f *Failure) class() Class {
	if f.Credential {
		return KeyRejected
	}
	return Classify(f.Err, f.Status)
}

// Attempt is the next upstream attempt a Plan allows.
type Attempt struct {
	Target Target
	// TargetIndex is the position in the chain: 0 is the requested target,
	// higher values are fallbacks.
	TargetIndex int
	// Number counts upstream attempts from 1.
	Number int
	// Wait is the backoff to sleep before sending; it already fits before Deadline.
	Wait time.Duration
	// Deadline is when the plan's time budget ends; bound the attempt's
	// connect and first-byte timeouts by it.
	Deadline time.Time
}

// maxTried bounds the keys remembered per target; a pool with more keys may
// see one retried, which is harmless. It also bounds the attempts per target
// that key-specific failures get for free.
const maxTried = 16

// Plan walks one client request through its attempts. Use it as a value on
// the request's stack (it does not allocate):
//
//	plan := policy.NewPlan(now, chain, rnd)
//	for a, ok := plan.Next(now); ok; a, ok = plan.Next(now) { ... }
//
// After each attempt call exactly one of Skip (no upstream request was sent),
// Fail (it failed) or Commit (it succeeded, or bytes are about to reach the
// client). Once committed, or after a failure that was not NothingSent, the
// plan never yields another attempt.
type Plan struct {
	policy   Policy
	rnd      Rand
	chain    []Target
	deadline time.Time

	target   int // index into chain
	attempts int // attempts charged to the budget (MaxAttempts)
	made     int // attempts made, free ones included
	onTarget int
	wait     time.Duration
	prevWait time.Duration
	done     bool
	pending  bool // an attempt was handed out and not yet reported

	cur      int // key of the pending attempt, -1 if none
	tried    [maxTried]int
	nTried   int
	refused  [maxTried]int // keys that refused this request (429, rejected credential)
	nRefused int
	// free counts the attempts on the current target that a key-specific
	// failure gave back to the budget.
	free       int
	retryAfter time.Duration
}

// NewPlan starts a plan at now over chain (chain[0] is the requested target,
// the rest its fallbacks, in order). rnd draws the backoff jitter.
func (p Policy) NewPlan(now time.Time, chain []Target, rnd Rand) Plan {
	var pl Plan
	p.StartPlan(&pl, now, chain, rnd)
	return pl
}

// StartPlan is NewPlan into pl, for a Plan that lives in a pooled struct:
// it sets the fields in place, with no Plan-sized temporary on the stack.
func (p Policy) StartPlan(pl *Plan, now time.Time, chain []Target, rnd Rand) {
	p = p.withDefaults()
	if rnd == nil {
		rnd = SharedRand{}
	}
	*pl = Plan{}
	pl.policy = p
	pl.rnd = rnd
	pl.chain = chain
	pl.deadline = now.Add(p.MaxTotal)
	pl.done = len(chain) == 0
	pl.cur = -1
}

// Next returns the next attempt, or false when the plan is over: committed,
// out of targets, out of attempts, or the backoff would end past the deadline.
func (pl *Plan) Next(now time.Time) (Attempt, bool) {
	if pl.done || pl.target >= len(pl.chain) || pl.attempts >= pl.policy.MaxAttempts {
		pl.done = true
		return Attempt{}, false
	}
	if !now.Add(pl.wait).Before(pl.deadline) {
		pl.done = true
		return Attempt{}, false
	}
	pl.attempts++
	pl.made++
	pl.onTarget++
	pl.pending = true
	pl.cur = -1
	a := Attempt{
		Target:      pl.chain[pl.target],
		TargetIndex: pl.target,
		Number:      pl.made,
		Wait:        pl.wait,
		Deadline:    pl.deadline,
	}
	pl.wait = 0
	return a, true
}

// Excluded lists the keys already tried on the current target, for
// keypool.Pool.Acquire(now, plan.Excluded()...): retries go to another key
// when there is one.
func (pl *Plan) Excluded() []int { return pl.tried[:pl.nTried] }

// Refused lists only the keys that refused this request (429, 401/403). When
// Acquire with Excluded finds no key, try again with Refused: after a
// transient failure (a reset on a stale connection, say) the same key may
// be retried if it is the only one.
func (pl *Plan) Refused() []int { return pl.refused[:pl.nRefused] }

// UseKey records the key index the pending attempt uses.
func (pl *Plan) UseKey(i int) { pl.cur = i }

// Skip reports that the attempt sent nothing upstream (breaker open, no key
// available) and moves to the next target without spending an attempt.
// retryAfter, if positive, is kept as a Retry-After suggestion for the
// client should the whole plan fail.
func (pl *Plan) Skip(retryAfter time.Duration) {
	if !pl.pending {
		return
	}
	pl.pending = false
	pl.attempts--
	pl.made--
	pl.noteRetryAfter(retryAfter)
	pl.nextTarget()
}

// Fail reports a failed attempt and says whether to call Next again. It
// returns false unless f.Delivery is NothingSent and the failure is worth a
// retry; the relay then answers the client with the failure it has.
func (pl *Plan) Fail(f Failure) bool {
	if !pl.pending || pl.done {
		pl.done = true
		return false
	}
	pl.pending = false
	if f.Delivery != NothingSent {
		pl.done = true
		return false
	}
	c := f.class()
	if c == RateLimited {
		pl.noteRetryAfter(f.RetryAfter)
	}
	keyFault := c == RateLimited || c == KeyRejected
	pl.noteKey(keyFault)
	if keyFault && pl.free < maxTried {
		// A rate-limited or rejected key says nothing about the provider:
		// the next key is tried without spending the request's attempts,
		// until every key was tried once (Acquire then finds none and the
		// plan moves on); MaxTotal still bounds the time.
		pl.free++
		pl.attempts--
		pl.onTarget--
	}
	if c == Fatal || pl.attempts >= pl.policy.MaxAttempts {
		pl.done = true
		return false
	}
	if pl.onTarget >= pl.policy.PerTarget {
		// A different provider needs no backoff: its load is unrelated.
		pl.nextTarget()
		return pl.target < len(pl.chain)
	}
	if c == Transient {
		// Same provider, another key: back off, the provider may be struggling.
		if pl.policy.Decorrelated {
			pl.wait = pl.policy.DecorrelatedBackoff(pl.prevWait, pl.rnd)
		} else {
			pl.wait = pl.policy.Backoff(pl.onTarget, pl.rnd)
		}
		pl.prevWait = pl.wait
	}
	// A 429 or rejected key is that key's problem: try the next key at once.
	return true
}

// Commit marks the request as answered from the current attempt: call it
// before the first byte goes to the client. No attempt follows.
func (pl *Plan) Commit() {
	pl.pending = false
	pl.done = true
}

// Done reports whether the plan is over (committed or exhausted).
func (pl *Plan) Done() bool { return pl.done }

// Attempts is the number of upstream attempts made, including those a
// key-specific failure did not charge to the budget.
func (pl *Plan) Attempts() int { return pl.made }

// RetryAfter is the soonest Retry-After seen from skipped targets and 429s,
// 0 if none: a hint for the 429/503 the relay sends when the plan fails.
func (pl *Plan) RetryAfter() time.Duration { return pl.retryAfter }

func (pl *Plan) noteKey(refused bool) {
	if pl.cur < 0 {
		return
	}
	if pl.nTried < maxTried {
		pl.tried[pl.nTried] = pl.cur
		pl.nTried++
	}
	if refused && pl.nRefused < maxTried {
		pl.refused[pl.nRefused] = pl.cur
		pl.nRefused++
	}
	pl.cur = -1
}

func (pl *Plan) nextTarget() {
	pl.target++
	pl.onTarget = 0
	pl.nTried = 0
	pl.nRefused = 0
	pl.free = 0
	pl.wait = 0
	pl.prevWait = 0
}

func (pl *Plan) noteRetryAfter(d time.Duration) {
	if d > 0 && (pl.retryAfter == 0 || d < pl.retryAfter) {
		pl.retryAfter = d
	}
}
