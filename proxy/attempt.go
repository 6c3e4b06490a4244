package proxy

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// held is what an attempt that will answer the client holds until the
// answer is finished: the key lease and the provider's concurrency slot.
// For a stream they are released when the relay ends. It lives on
// forward's stack; startStream moves it to the heap for the relay.
type held struct {
	streaming bool
	// failed: the answer relayed is the upstream's own early error event,
	// which counts against the key however the stream ends.
	failed  bool
	settled bool
	up      *upState
	lease   keypool.Lease
	slot    func()
	admit   func()
	run     *snapshot
	// total runs the attempt's total timeout, if the provider has one.
	total *totalGuard
}

// done releases everything, recording o against the key. It is called
// once, by forward or (for a stream) by the relay's end.
func (h *held) done(o keypool.Outcome) {
	if h.settled {
		return
	}
	h.settled = true
	if h.total != nil {
		h.total.stop()
	}
	if h.lease.Valid() {
		h.lease.Release(o)
	}
	if h.slot != nil {
		h.slot()
	}
	if h.admit != nil {
		h.admit()
	}
	h.run.leave()
}

// statusClientClosed is logged for a request whose client left before any
// answer (nginx's 499).
const statusClientClosed = 499

// errEarlyStreamError is an upstream stream whose first event is an error.
var errEarlyStreamError = errors.New("upstream stream began with an error event")

// forward sends the exchange upstream, retrying on other keys and down the
// model's fallback chain while nothing has reached the client, and answers
// the client.
func (s *Server) forward(x *exchange) {
	if x.stream && !x.ctx.Request.Header.IsHTTP11() {
		// An answer of unknown length goes chunked, which HTTP/1.0 lacks.
		s.fail(x, wire.InvalidRequest, "a streamed answer needs HTTP/1.1; send the request over HTTP/1.1 or without streaming", "stream", nil)
		return
	}
	run := x.run
	admit, err := run.lim.Admit(x.stream)
	if err != nil {
		s.overloaded(x, err)
		return
	}
	run.enter()
	h := &held{run: run, admit: admit}
	defer func() {
		if !h.streaming {
			h.done(keypool.Outcome{Kind: keypool.Ignored})
		}
	}()

	ctx := x.ctx
	now := time.Now()
	plan := run.policy.NewPlan(now, run.chain(x.rt), retry.SharedRand{})
	primary := x.rt
	var (
		body0    []byte // the request body for the primary target, reused by its retries
		last     *providers.Result
		lastRt   routed
		lastErr  error
		lastKind = wire.Unavailable
		lastMsg  = "no upstream available"
		// attempted: an upstream answered or failed; skip reasons found
		// later no longer replace what it said.
		attempted bool
		prevProv  = primary.provider.Name()
	)
	release := func() {
		if last != nil {
			last.Release()
			last = nil
		}
	}
	defer release()
	s.prompts.Log(b2s(ctx.Response.Header.Peek("X-Request-Id")), x.in.String(), x.rt.model, ctx.PostBody())
	x.prompted = true
	for a, ok := plan.Next(now); ok; a, ok = plan.Next(now) {
		if a.Wait > 0 {
			time.Sleep(a.Wait)
		}
		if attempted && peerClosed(ctx.Conn()) {
			// The client left while the last attempt ran: a retry would
			// generate (and bill) an answer nobody reads.
			ctx.SetStatusCode(statusClientClosed)
			s.logDone(ctx, x.start, x.upstream, x.in, x.provider(), x.rt.model, x.stream, stream.ErrClientGone)
			return
		}
		up := run.ups[a.Target.Provider]
		if up == nil {
			plan.Skip(0)
			continue
		}
		if a.Number > 1 {
			s.metrics.Retry(up.name)
		}
		if up.name != prevProv {
			s.metrics.Failover(prevProv, up.name)
			prevProv = up.name
		}
		rt := primary
		if a.TargetIndex > 0 {
			rt = routed{provider: up.prov, model: a.Target.Model, rewrite: true}
		}
		x.rt = rt
		var body []byte
		if a.TargetIndex == 0 && body0 != nil {
			body = body0
		} else if body, err = s.upstreamBody(x); err != nil {
			if a.TargetIndex == 0 {
				s.badUpstreamBody(x, err)
				return
			}
			plan.Skip(0) // this fallback cannot take the request; try the next
			continue
		} else if a.TargetIndex == 0 {
			body0 = body
		}

		now = time.Now()
		var tk breaker.Ticket
		if up.br != nil {
			var allowed bool
			if tk, allowed = up.br.Allow(now); !allowed {
				plan.Skip(up.br.RetryAfter(now))
				if !attempted {
					lastKind, lastMsg = wire.Unavailable, "provider "+quote(up.name)+" is failing (circuit open); retry later"
				}
				continue
			}
		}
		if up.pool != nil {
			h.lease, err = up.pool.Acquire(now, plan.Excluded()...)
			if err != nil && len(plan.Refused()) < len(plan.Excluded()) {
				// Only transient failures so far: the same key may serve again.
				h.lease, err = up.pool.Acquire(now, plan.Refused()...)
			}
			if err != nil {
				abandon(up, tk)
				var nk *keypool.NoKeyError
				ra := time.Duration(0)
				if errors.As(err, &nk) {
					ra = nk.RetryAfter(now)
				}
				if nk != nil && !attempted {
					if nk.Cooling > 0 && nk.Cooling+nk.Excluded >= up.pool.Len() {
						lastKind, lastMsg = wire.RateLimited, "every key of provider "+quote(up.name)+" is rate limited; retry later"
					} else {
						lastKind, lastMsg = wire.Unavailable, "no key of provider "+quote(up.name)+" is available"
					}
				}
				plan.Skip(ra)
				continue
			}
			plan.UseKey(h.lease.Index())
		}
		h.up = up
		h.slot, err = up.sem.Acquire(nil)
		if err != nil {
			h.lease.Release(keypool.Outcome{Kind: keypool.Ignored})
			abandon(up, tk)
			var oe *retry.OverloadError
			if errors.As(err, &oe) {
				plan.Skip(oe.RetryAfter)
			} else {
				plan.Skip(0)
			}
			if !attempted {
				lastKind, lastMsg = wire.RateLimited, "provider "+quote(up.name)+" is at its concurrency limit; retry later"
			}
			continue
		}

		call := providers.Call{
			Op:        x.op,
			Model:     rt.model,
			Stream:    x.stream,
			Body:      body,
			Header:    &ctx.Request.Header,
			Ingress:   x.in,
			RequestID: b2s(ctx.Response.Header.Peek("X-Request-Id")),
		}
		if h.lease.Valid() {
			call.Key = h.lease.Secret()
		}
		sent := time.Now()
		res, err := up.prov.Do(&call)
		status := 0
		var ra time.Duration
		var rd *stream.Reader
		if err == nil {
			status = res.Status
			if len(res.RetryAfter) > 0 {
				ra, _ = keypool.ParseRetryAfter(string(res.RetryAfter), time.Now())
			}
			if status == fasthttp.StatusOK && res.Stream != nil {
				if up.total > 0 {
					h.limitTotal(res, up.total, sent)
				}
				// Hold back the first event: an upstream that fails at once
				// (an error event, or a body that ends or breaks before any
				// event) can still be failed over, since the client has
				// seen nothing yet.
				rd = stream.NewReader(res.Stream, run.cfg.Server.MaxEventBytes)
				var ev stream.Event
				perr := primeWithin(rd, &ev, res.Stream, up.firstEvt-time.Since(sent), up.firstEvt > 0,
					ctx.Conn(), run.cfg.Server.StreamHeartbeat)
				if errors.Is(perr, stream.ErrClientGone) {
					// The client left while the first event was awaited:
					// nothing to answer and nothing to retry.
					x.upstream += time.Since(sent)
					abandon(up, tk)
					h.stopTotal()
					rd.Release()
					res.Release()
					h.lease.Release(keypool.Outcome{Kind: keypool.Ignored})
					h.slot()
					h.slot = nil
					ctx.SetStatusCode(statusClientClosed)
					s.logDone(ctx, x.start, x.upstream, x.in, up.name, rt.model, x.stream, perr)
					return
				}
				if perr != nil {
					err = perr
				} else if stream.IsErrorEvent(&ev) {
					status = fasthttp.StatusBadGateway
					err = errEarlyStreamError
				}
			}
		}
		x.upstream += time.Since(sent)
		s.logAttempt(x, a.Number, up.name, rt.model, &h.lease, status, time.Since(sent), err)
		ok := err == nil && status == fasthttp.StatusOK
		class := retry.Classify(err, status)
		if err == errEarlyStreamError {
			class = retry.Transient
		}
		settleBreaker(up, tk, class, err, x.stream)
		if ok {
			plan.Commit()
			release()
			s.answer(x, h, res, rd)
			return
		}
		// A failed attempt: record it against the key and decide.
		outcome := keypool.StatusOutcome(status, ra)
		early := err == errEarlyStreamError
		if err != nil && !early {
			outcome = keypool.ErrorOutcome()
		}
		credential := err == nil && wire.CredentialRejected(up.prov.Protocol(), status, res.Body)
		if credential {
			outcome = keypool.RejectedOutcome(status)
		}
		if outcome.Kind == keypool.RateLimited {
			s.metrics.Cooldown(up.name)
		}
		retryIt := plan.Fail(retry.Failure{Err: errNilIfEarly(err), Status: status, RetryAfter: ra,
			Delivery: retry.NothingSent, Credential: credential})
		if early && !retryIt {
			// The upstream's own error event is the best answer left: relay
			// it, in the client's protocol.
			h.failed = true
			release()
			s.answer(x, h, res, rd)
			return
		}
		if rd != nil {
			h.stopTotal()
			_ = res.Stream.CloseWithError(err)
			rd.Release()
		}
		h.lease.Release(outcome)
		h.slot()
		h.slot = nil
		release()
		attempted = true
		switch {
		case res == nil:
			lastErr, lastKind = err, wire.BadGateway
			var pe *providers.Error
			if errors.As(err, &pe) {
				lastKind = pe.Kind
			}
			lastMsg = upstreamFailure(lastKind)
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				lastMsg = "the upstream's answer is larger than its provider's max_response_bytes"
			}
		case rd != nil:
			res.Release()
			lastErr, lastKind = err, wire.BadGateway
			if isTimeout(err) || errors.Is(err, retry.ErrFirstByteTimeout) {
				lastKind = wire.Timeout
			}
			lastMsg = "upstream stream failed before its first event: " + stream.Describe(err)
		default:
			last, lastRt, lastErr = res, rt, nil
		}
		if !retryIt {
			break
		}
		now = time.Now()
	}
	// No attempt answered: relay the last upstream error, else say why.
	if last != nil {
		x.rt = lastRt
		if len(last.RetryAfter) > 0 {
			ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, last.RetryAfter)
		}
		s.relayUpstreamError(x, last)
		s.logDone(ctx, x.start, x.upstream, x.in, x.provider(), x.rt.model, x.stream, nil)
		return
	}
	if ra := plan.RetryAfter(); ra > 0 || !attempted {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(retrySeconds(ra)))
	}
	s.fail(x, lastKind, lastMsg, "", lastErr)
}

// primeWithin runs rd.Prime, bounded (when bounded is set) by what is left
// of the first-byte timeout: the first event of a stream is part of its
// first answer, and an upstream that sends headers and then nothing must
// not keep the client waiting with no response at all. While it waits it
// also checks every tick whether the client went away (no heartbeat can
// reach a client before the headers): then the upstream is closed at once,
// so the model stops generating, and Prime reports stream.ErrClientGone.
func primeWithin(rd *stream.Reader, ev *stream.Event, up stream.Upstream, left time.Duration, bounded bool,
	client net.Conn, tick time.Duration) error {
	if !bounded && (client == nil || tick <= 0) {
		return rd.Prime(ev)
	}
	deadline := time.Now().Add(max(left, 0))
	next := func(now time.Time) time.Duration {
		d := deadline.Sub(now)
		if !bounded || (tick > 0 && client != nil && tick < d) {
			return tick
		}
		return max(d, 0)
	}
	var (
		mu     sync.Mutex
		done   bool
		reason error
		t      *time.Timer
	)
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		now := time.Now()
		switch {
		case bounded && !now.Before(deadline):
			reason = retry.ErrFirstByteTimeout
		case client != nil && tick > 0 && peerClosed(client):
			reason = stream.ErrClientGone
		default:
			t.Reset(next(now))
			return
		}
		// Unblocks Prime's read; it returns before this close completes.
		_ = up.CloseWithError(reason)
	}
	mu.Lock()
	t = time.AfterFunc(next(time.Now()), check)
	mu.Unlock()
	err := rd.Prime(ev)
	mu.Lock()
	done = true
	t.Stop()
	why := reason
	mu.Unlock()
	if why != nil {
		return why
	}
	return err
}

// peerClosed reports whether the client closed its end of conn, by peeking
// at its socket without consuming or waiting. Connections that are not
// plain sockets (TLS, in-memory) are taken to be open.
func peerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	_ = rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || err == syscall.ECONNRESET
	})
	return closed
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func errNilIfEarly(err error) error {
	if err == errEarlyStreamError {
		return nil
	}
	return err
}

// settleBreaker tells the provider's breaker how an attempt went. Only
// failures on the upstream's side count against it (5xx, connect errors,
// resets, a stream that gives no first event in time): a client must not be
// able to open the breaker for everyone. A non-stream request that runs
// past the first-byte timeout is neutral, since its client chose how long
// a generation to ask for; 4xx and 429 count as the upstream working.
func settleBreaker(up *upState, tk breaker.Ticket, class retry.Class, err error, stream bool) {
	if up.br == nil {
		return
	}
	if err != nil && !stream && (isTimeout(err) || errors.Is(err, retry.ErrFirstByteTimeout)) {
		up.br.Abandon(tk)
		return
	}
	up.br.Done(tk, class != retry.Transient)
}

func abandon(up *upState, tk breaker.Ticket) {
	if up.br != nil {
		up.br.Abandon(tk)
	}
}

// retrySeconds renders a Retry-After in whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	return max(n, 1)
}

// overloaded answers a request the global bounds refused, at once.
func (s *Server) overloaded(x *exchange, err error) {
	var oe *retry.OverloadError
	kind, ra := wire.Unavailable, time.Second
	if errors.As(err, &oe) {
		ra = oe.RetryAfter
		if oe.Status == fasthttp.StatusTooManyRequests {
			kind = wire.RateLimited
		}
	}
	x.ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(retrySeconds(ra)))
	s.fail(x, kind, "the proxy is at its concurrency limit; retry later", "", err)
}

// badUpstreamBody answers a request that cannot be put into the provider's protocol.
func (s *Server) badUpstreamBody(x *exchange, err error) {
	var fe *convert.FieldError
	if errors.As(err, &fe) {
		prov := x.rt.provider
		s.fail(x, wire.InvalidRequest, "cannot send this request to provider "+quote(prov.Name())+
			" ("+prov.Protocol().String()+"): "+fe.Error(), fe.Field, nil)
		return
	}
	s.fail(x, wire.InvalidRequest, "request body: "+err.Error(), "", nil)
}
