package proxy

import (
	"errors"
	"go.uber.org/zap"
	"net"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/admission"
	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// target is one attempt's upstream: the provider, the model and body it
// gets, and the breaker ticket the attempt runs under.
type target struct {
	a     retry.Attempt
	up    *upState
	route routed
	body  []byte
	tk    breaker.Ticket
}

// prepare chooses the attempt's target and takes what it needs: the body
// in the provider's protocol, the breaker's permission, a key and a
// concurrency slot (held in h). A target that cannot be tried now is
// skipped with the reason recorded; a body the primary target cannot take
// ends the exchange.
func (s *Server) prepare(x *exchange, t *tries, h *held, a retry.Attempt, at *target) step {
	*at = target{a: a, up: x.snap.ups[a.Target.Provider], route: t.primary}
	if at.up == nil {
		t.plan.Skip(0)
		return stepSkip
	}
	up := at.up
	if a.Number > 1 {
		s.metrics.Retry(up.name)
	}
	if up.name != t.prevProv {
		s.metrics.Failover(t.prevProv, up.name)
		t.prevProv = up.name
	}
	if a.TargetIndex > 0 {
		at.route = routed{provider: up.prov, model: a.Target.Model, rewrite: true}
	}
	x.route = at.route
	if next := s.prepareBody(x, t, at); next != stepProceed {
		return next
	}
	now := time.Now()
	if up.br != nil {
		var allowed bool
		if at.tk, allowed = up.br.Allow(now); !allowed {
			t.plan.Skip(up.br.RetryAfter(now))
			t.skipped(wire.Unavailable, "provider "+quote(up.name)+" is failing (circuit open); retry later")
			return stepSkip
		}
	}
	if !s.leaseKey(t, h, at, now) {
		return stepSkip
	}
	h.up = up
	slot, err := acquireSlot(up.sem, x.ctx.Conn(), s.log)
	if err != nil {
		h.releaseAttempt(keypool.Outcome{Kind: keypool.Ignored})
		abandon(up, at.tk)
		if errors.Is(err, admission.ErrAbandoned) {
			s.clientLeft(x)
			return stepDone
		}
		var oe *admission.OverloadError
		if errors.As(err, &oe) {
			t.plan.Skip(oe.RetryAfter)
		} else {
			t.plan.Skip(0)
		}
		t.skipped(wire.RateLimited, "provider "+quote(up.name)+" is at its concurrency limit; retry later")
		return stepSkip
	}
	h.slot = slot
	return stepProceed
}

// acquireSlot takes one of the provider's concurrency slots. While it
// queues for one, a client that leaves gives up its place.
func acquireSlot(sem *admission.Sem, conn net.Conn, log *zap.Logger) (func(), error) {
	if release, ok := sem.AcquireNow(); ok {
		return release, nil
	}
	gone, stop := watchClient(conn, log)
	defer stop()
	return sem.Acquire(gone)
}

// prepareBody puts the request into the target's protocol. The primary
// target's body is made once and reused by its retries.
func (s *Server) prepareBody(x *exchange, t *tries, at *target) step {
	if at.a.TargetIndex == 0 && t.body0 != nil {
		at.body = t.body0
		return stepProceed
	}
	body, err := s.upstreamBody(x)
	if err != nil {
		if at.a.TargetIndex == 0 {
			s.badUpstreamBody(x, err)
			return stepDone
		}
		t.plan.Skip(0) // this fallback cannot take the request; try the next
		return stepSkip
	}
	if at.a.TargetIndex == 0 {
		t.body0 = body
	}
	at.body = body
	return stepProceed
}

// leaseKey takes a key of the target's provider for the attempt, avoiding
// the keys that already failed this exchange.
func (s *Server) leaseKey(t *tries, h *held, at *target, now time.Time) bool {
	up := at.up
	if up.pool == nil {
		return true
	}
	var err error
	h.lease, err = up.pool.Acquire(now, t.plan.Excluded()...)
	if err != nil && len(t.plan.Refused()) < len(t.plan.Excluded()) {
		// Only transient failures so far: the same key may serve again.
		h.lease, err = up.pool.Acquire(now, t.plan.Refused()...)
	}
	if err == nil {
		t.plan.UseKey(h.lease.Index())
		return true
	}
	abandon(up, at.tk)
	var nk *keypool.NoKeyError
	ra := time.Duration(0)
	if errors.As(err, &nk) {
		ra = nk.RetryAfter(now)
		if nk.Cooling > 0 && nk.Cooling+nk.Excluded >= up.pool.Len() {
			t.skipped(wire.RateLimited, "every key of provider "+quote(up.name)+" is rate limited; retry later")
		} else {
			t.skipped(wire.Unavailable, "no key of provider "+quote(up.name)+" is available")
		}
	}
	t.plan.Skip(ra)
	return false
}

// result is what one attempt got back.
type result struct {
	res    *providers.Result
	rd     *stream.Reader // a stream with its first event held back
	status int
	ra     time.Duration // the upstream's Retry-After
	err    error
	sent   time.Time
	// call is the request the attempt sent.
	call providers.Call
}

// call sends the attempt and, for a stream, holds back its first event:
// an upstream that fails at once (an error event, or a body that ends or
// breaks before any event) can still be failed over, since the client has
// seen nothing yet.
func (s *Server) call(x *exchange, h *held, at *target, r *result) {
	ctx := x.ctx
	// The call lives in r: handed to the provider through an interface, it
	// would otherwise move to the heap on every attempt.
	c := &r.call
	*c = providers.Call{
		Op:        x.op,
		Model:     at.route.model,
		Stream:    x.stream,
		Body:      at.body,
		Header:    &ctx.Request.Header,
		Ingress:   x.in,
		RequestID: b2s(ctx.Response.Header.Peek("X-Request-Id")),
	}
	if h.lease.Valid() {
		c.Key = h.lease.Secret()
	}
	r.res, r.err, r.rd, r.status, r.ra = nil, nil, nil, 0, 0
	r.sent = time.Now()
	r.res, r.err = at.up.prov.Do(c)
	if r.err != nil {
		return
	}
	r.status = r.res.Status
	if len(r.res.RetryAfter) > 0 {
		r.ra, _ = wire.ParseRetryAfter(string(r.res.RetryAfter), time.Now())
	}
	if r.status != fasthttp.StatusOK || r.res.Stream == nil {
		return
	}
	up, srv := at.up, &x.snap.cfg.Server
	if up.total > 0 {
		h.limitTotal(r.res, up.total, r.sent)
	}
	r.rd = stream.NewReader(r.res.Stream, srv.MaxEventBytes)
	// Before the first read: a body that arrived whole is then primed,
	// and relayed (or converted), in one piece: one write to the client,
	// not one per 2 KB.
	r.rd.ReserveBody(r.res.StreamLength)
	var ev stream.Event
	r.err = s.primeWithin(r.rd, &ev, r.res.Stream, up.firstEvt-time.Since(r.sent), up.firstEvt > 0,
		ctx.Conn(), srv.StreamHeartbeat, s.log)
	if r.err == nil && stream.IsErrorEvent(&ev) {
		r.status, r.err = fasthttp.StatusBadGateway, errEarlyStreamError
	}
}

// settle decides what an attempt's result means: answer the client with
// it, or record the failure (against the key, the breaker and the plan)
// and say whether another attempt may follow.
func (s *Server) settle(x *exchange, t *tries, h *held, at *target, r *result) step {
	up := at.up
	x.upstream += time.Since(r.sent)
	if errors.Is(r.err, stream.ErrClientGone) {
		// The client left while the first event was awaited: nothing to
		// answer and nothing to retry.
		abandon(up, at.tk)
		h.stopTotal()
		r.rd.Release()
		r.res.Release()
		h.releaseAttempt(keypool.Outcome{Kind: keypool.Ignored})
		s.clientLeft(x)
		return stepDone
	}
	s.logAttempt(x, at.a.Number, up.name, at.route.model, &h.lease, r.status, time.Since(r.sent), r.err)
	early := r.err == errEarlyStreamError
	class := retry.Classify(r.err, r.status)
	if early {
		class = retry.Transient
	}
	settleBreaker(up, at.tk, class, r.err, x.stream)
	if r.err == nil && r.status == fasthttp.StatusOK {
		if at.a.TargetIndex != 0 {
			// A fallback's answer is not the answer to what was asked.
			x.cache.keep = false
		}
		t.plan.Commit()
		t.releaseLast()
		s.answer(x, h, r.res, r.rd)
		return stepDone
	}
	outcome, credential := keyOutcome(up, r)
	if outcome.Kind == keypool.RateLimited {
		s.metrics.Cooldown(up.name)
	}
	retryIt := t.plan.Fail(retry.Failure{Err: errNilIfEarly(r.err), Status: r.status, RetryAfter: r.ra,
		Delivery: retry.NothingSent, Credential: credential})
	if early && !retryIt {
		// The upstream's own error event is the best answer left: relay
		// it, in the client's protocol.
		h.failed = true
		x.cache.keep = false
		t.releaseLast()
		s.answer(x, h, r.res, r.rd)
		return stepDone
	}
	if r.rd != nil {
		h.stopTotal()
		_ = r.res.Stream.CloseWithError(r.err)
		r.rd.Release()
	}
	h.releaseAttempt(outcome)
	t.releaseLast()
	t.attempted = true
	t.noteFailure(at.route, r)
	if retryIt {
		return stepRetry
	}
	return stepGiveUp
}

// keyOutcome is what a failed attempt says about its key; credential is
// set when the upstream said the key itself is bad.
func keyOutcome(up *upState, r *result) (o keypool.Outcome, credential bool) {
	o = keypool.StatusOutcome(r.status, r.ra)
	if r.err != nil && r.err != errEarlyStreamError {
		o = keypool.ErrorOutcome()
	}
	if r.err == nil && wire.CredentialRejected(up.prov.Protocol(), r.status, r.res.Body) {
		return keypool.RejectedOutcome(r.status), true
	}
	return o, false
}

// noteFailure keeps what a failed attempt leaves for the final answer: the
// upstream's error answer (owned from here on), or why there was none.
func (t *tries) noteFailure(rt routed, r *result) {
	switch {
	case r.res == nil:
		t.err, t.kind = r.err, wire.BadGateway
		var pe *providers.Error
		if errors.As(r.err, &pe) {
			t.kind = pe.Kind
		}
		t.msg = upstreamFailure(t.kind)
		if errors.Is(r.err, fasthttp.ErrBodyTooLarge) {
			t.msg = "the upstream's answer is larger than its provider's max_response_bytes"
		}
	case r.rd != nil:
		r.res.Release()
		t.err, t.kind = r.err, wire.BadGateway
		if isTimeout(r.err) || errors.Is(r.err, retry.ErrFirstByteTimeout) {
			t.kind = wire.Timeout
		}
		t.msg = "upstream stream failed before its first event: " + stream.Describe(r.err)
	default:
		t.last, t.lastRt, t.err = r.res, rt, nil
	}
}
