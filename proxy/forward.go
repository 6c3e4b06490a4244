package proxy

import (
	"errors"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/admission"
	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// statusClientClosed is logged for a request whose client left before any
// answer (nginx's 499).
const statusClientClosed = 499

// errEarlyStreamError is an upstream stream whose first event is an error.
var errEarlyStreamError = errors.New("upstream stream began with an error event")

// forward sends the exchange upstream, retrying on other keys and down the
// model's fallback chain while nothing has reached the client, and answers
// the client. Each turn of the loop is one attempt: choose its target and
// take what it needs (prepare), send it (call), then decide from what
// came back whether to answer, retry or give up (settle).
func (s *Server) forward(x *exchange) {
	if x.stream && !x.ctx.Request.Header.IsHTTP11() {
		// An answer of unknown length goes chunked, which HTTP/1.0 lacks.
		s.fail(x, wire.InvalidRequest, "a streamed answer needs HTTP/1.1; send the request over HTTP/1.1 or without streaming", "stream", nil)
		return
	}
	if x.snap.cache != nil && s.serveCached(x) {
		return
	}
	// The exchange's state comes from a pool rather than this stack: see
	// forwardState.
	// startStream copies h to the heap for a relay.
	fs := s.forwardStates.Get().(*forwardState)
	defer s.putForwardState(fs)
	h, t, at, r := &fs.h, &fs.t, &fs.at, &fs.r
	if !s.admit(x, h) {
		return
	}
	defer h.releaseUnlessStreaming()
	s.prompts.Log(b2s(x.ctx.Response.Header.Peek("X-Request-Id")), x.in.String(), x.route.model, x.ctx.PostBody())
	x.prompted = true

	now := time.Now()
	t.init(x, now, s.jitter)
	defer t.releaseLast()
	for a, ok := t.plan.Next(now); ok; a, ok = t.plan.Next(now) {
		if !s.backoff(x, a.Wait) || (t.attempted && peerClosed(x.ctx.Conn())) {
			// The client left while the last attempt ran or during the
			// backoff: a retry would generate (and bill) an answer nobody
			// reads.
			s.clientLeft(x)
			return
		}
		next := s.prepare(x, t, h, a, at)
		if next == stepSkip {
			now = time.Now()
			continue
		}
		if next == stepDone {
			return
		}
		s.call(x, h, at, r)
		switch s.settle(x, t, h, at, r) {
		case stepDone:
			return
		case stepRetry:
			now = time.Now()
			continue
		}
		break
	}
	s.answerFailure(x, t)
}

// forwardState is what forward keeps across an exchange's attempts. It
// lives in a pool, not on forward's stack: the retry plan and the held
// resources are over a kilobyte, and the goroutine serving a connection
// keeps the stack its deepest request needed, also while it relays a
// stream for minutes. Past 8 KB that stack doubles to 16 KB, and every
// garbage collection that finds it idle halves it again, to be copied back
// up by the next request.
type forwardState struct {
	h  held
	t  tries
	at target
	r  result
}

func newForwardState() any { return new(forwardState) }

// putForwardState clears fs, whose fields point into the finished
// exchange, and pools it.
func (s *Server) putForwardState(fs *forwardState) {
	*fs = forwardState{}
	s.forwardStates.Put(fs)
}

// tries is what an exchange keeps across its attempts.
type tries struct {
	plan    retry.Plan
	primary routed
	// body0 is the request body for the primary target, reused by its retries.
	body0    []byte
	prevProv string
	// attempted: an upstream answered or failed; skip reasons found later
	// no longer replace what it said.
	attempted bool
	// last is the last upstream error answer, relayed if no attempt
	// succeeds; lastRt is where it came from.
	last   *providers.Result
	lastRt routed
	// err, kind and msg say why the exchange failed when there is no
	// upstream answer to relay.
	err  error
	kind wire.Kind
	msg  string
}

// init starts t for x, field by field: a composite literal would be built
// in a temporary on the stack first (see forwardState).
func (t *tries) init(x *exchange, now time.Time, jitter retry.Rand) {
	*t = tries{}
	x.snap.policy.StartPlan(&t.plan, now, x.snap.chainFor(clientOf(x.ctx), x.route), jitter)
	t.primary = x.route
	t.prevProv = x.route.provider.Name()
	t.kind = wire.Unavailable
	t.msg = "no upstream available"
}

// skipped records why a target was passed over, unless an upstream
// already said something better.
func (t *tries) skipped(kind wire.Kind, msg string) {
	if !t.attempted {
		t.kind, t.msg = kind, msg
	}
}

func (t *tries) releaseLast() {
	if t.last != nil {
		t.last.Release()
		t.last = nil
	}
}

// step is what the loop does after a stage of an attempt.
type step uint8

const (
	stepProceed step = iota // go on with this attempt
	stepSkip                // this target cannot be tried now: next one
	stepRetry               // the attempt failed and the plan allows another
	stepGiveUp              // the attempt failed and the plan is exhausted
	stepDone                // the client has its answer (or left)
)

// admit takes the exchange's place under the proxy-wide bounds; a refused
// request is answered at once.
func (s *Server) admit(x *exchange, h *held) bool {
	admit, err := x.snap.lim.Admit(x.stream)
	if err != nil {
		s.overloaded(x, err)
		return false
	}
	x.snap.enter()
	*h = held{snap: x.snap, admit: admit, log: s.log}
	return true
}

// backoff waits d before the next attempt, giving up early (false) if the
// client leaves meanwhile: a wait of seconds must not outlive its reader.
func (s *Server) backoff(x *exchange, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	deadline := time.Now().Add(d)
	t := time.NewTimer(min(d, clientPoll))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			return true // shutting down: try at once, within the grace period
		}
		if peerClosed(x.ctx.Conn()) {
			return false
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		t.Reset(min(left, clientPoll))
	}
}

// clientLeft ends an exchange whose client went away before any answer.
func (s *Server) clientLeft(x *exchange) {
	x.ctx.SetStatusCode(statusClientClosed)
	s.logDone(x.ctx, x.start, x.upstream, x.in, x.provider(), x.route.model, x.stream, stream.ErrClientGone)
}

// answerFailure answers an exchange no attempt could serve: the last
// upstream error if there is one, else why nothing was tried.
func (s *Server) answerFailure(x *exchange, t *tries) {
	ctx := x.ctx
	if t.last != nil {
		x.route = t.lastRt
		if len(t.last.RetryAfter) > 0 {
			ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, t.last.RetryAfter)
		}
		s.relayUpstreamError(x, t.last)
		s.logDone(ctx, x.start, x.upstream, x.in, x.provider(), x.route.model, x.stream, nil)
		return
	}
	if ra := t.plan.RetryAfter(); ra > 0 || !t.attempted {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(retrySeconds(ra)))
	}
	s.fail(x, t.kind, t.msg, "", t.err)
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
	var oe *admission.OverloadError
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
		prov := x.route.provider
		s.fail(x, wire.InvalidRequest, "cannot send this request to provider "+quote(prov.Name())+
			" ("+prov.Protocol().String()+"): "+fe.Error(), fe.Field, nil)
		return
	}
	s.fail(x, wire.InvalidRequest, "request body: "+err.Error(), "", nil)
}
