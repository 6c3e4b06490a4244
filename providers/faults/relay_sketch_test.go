package faults

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/providers/wire"
)

// This file wires keypool, breaker and retry against fault servers the way
// the relay is meant to: it is both their integration test and a worked
// example of the attempt loop.

type upstream struct {
	srv  *Server
	hc   *fasthttp.HostClient
	pool *keypool.Pool
	br   *breaker.Breaker
}

type sketchRelay struct {
	lim    *retry.Limiter
	policy retry.Policy
	ups    map[string]*upstream
}

type relayResult struct {
	status     int
	body       string
	retryAfter time.Duration
	attempts   int
	broken     bool // the stream failed after it was committed
}

// do runs one client request through the chain. sent reports whether a
// byte went to the client; stream requests commit on response headers.
func (r *sketchRelay) do(t *testing.T, chain []retry.Target, stream bool) relayResult {
	t.Helper()
	release, err := r.lim.Admit(stream)
	if err != nil {
		var oe *retry.OverloadError
		errors.As(err, &oe)
		return relayResult{status: oe.Status, retryAfter: oe.RetryAfter}
	}
	defer release()

	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	body := plainBody
	if stream {
		body = streamBody
	}
	now := time.Now()
	plan := r.policy.NewPlan(now, chain, retry.SharedRand{})
	last := relayResult{status: 503}
	for a, ok := plan.Next(now); ok; a, ok = plan.Next(now) {
		if a.Wait > 0 {
			time.Sleep(a.Wait) // the relay would use a timer and watch the client
		}
		up := r.ups[a.Target.Provider]
		now = time.Now()
		tk, allowed := up.br.Allow(now)
		if !allowed {
			plan.Skip(up.br.RetryAfter(now))
			continue
		}
		lease, err := up.pool.Acquire(now, plan.Excluded()...)
		if err != nil && len(plan.Refused()) < len(plan.Excluded()) {
			// Only transient failures so far: the same key may serve again.
			lease, err = up.pool.Acquire(now, plan.Refused()...)
		}
		if err != nil {
			up.br.Abandon(tk)
			var nk *keypool.NoKeyError
			errors.As(err, &nk)
			plan.Skip(nk.RetryAfter(now))
			continue
		}
		plan.UseKey(lease.Index())
		provSem := r.lim.Provider(a.Target.Provider)
		relProv, err := provSem.Acquire(nil)
		if err != nil {
			lease.Release(keypool.Outcome{Kind: keypool.Ignored})
			up.br.Abandon(tk)
			var oe *retry.OverloadError
			errors.As(err, &oe)
			plan.Skip(oe.RetryAfter)
			continue
		}

		req.Reset()
		resp.Reset()
		req.SetRequestURI(up.srv.URL() + "/v1/chat/completions")
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.Set("Authorization", "Bearer "+lease.Secret())
		req.SetBodyString(body)
		// Streams return at the response headers; the body is relayed after.
		resp.StreamBody = stream
		err = up.hc.DoDeadline(req, resp, a.Deadline)
		relProv()

		status := 0
		var ra time.Duration
		if err == nil {
			status = resp.StatusCode()
			ra, _ = keypool.ParseRetryAfter(string(resp.Header.Peek("Retry-After")), time.Now())
		}
		class := retry.Classify(err, status)
		credential := err == nil && status >= 400 && wire.CredentialRejected(wire.OpenAIChat, status, resp.Body())
		switch {
		case err != nil:
			lease.Release(keypool.ErrorOutcome())
		case credential:
			lease.Release(keypool.RejectedOutcome(status))
		default:
			lease.Release(keypool.StatusOutcome(status, ra))
		}
		// Only transient failures speak against the provider as a whole.
		up.br.Done(tk, class != retry.Transient)

		if err == nil && status == 200 {
			plan.Commit() // headers go to the client next: no retry after this
			out := relayResult{status: 200, attempts: plan.Attempts()}
			if !stream {
				out.body = string(resp.Body())
				return out
			}
			b, rerr := io.ReadAll(resp.BodyStream())
			// fasthttp reads a chunked body cut at a chunk boundary as a clean
			// EOF (see TestFasthttpTruncatedChunkedStreamIsCleanEOF): only the
			// missing terminator tells a truncated stream from a finished one.
			out.body = string(b)
			out.broken = rerr != nil || !strings.HasSuffix(out.body, "data: [DONE]\n\n")
			_ = resp.CloseBodyStream()
			return out
		}
		if err == nil {
			last = relayResult{status: status, body: string(resp.Body())}
		}
		if !plan.Fail(retry.Failure{Err: err, Status: status, RetryAfter: ra, Delivery: retry.NothingSent, Credential: credential}) {
			break
		}
		now = time.Now()
	}
	last.attempts = plan.Attempts()
	if last.retryAfter = plan.RetryAfter(); last.retryAfter == 0 && last.status == 503 {
		last.retryAfter = time.Second
	}
	return last
}

func newSketch(t *testing.T, policy retry.Policy, lim retry.LimiterOptions, names ...string) *sketchRelay {
	t.Helper()
	r := &sketchRelay{lim: retry.NewLimiter(lim), policy: policy, ups: map[string]*upstream{}}
	for _, name := range names {
		srv := startServer(t, Script{})
		hc := newHostClient(srv)
		t.Cleanup(hc.CloseIdleConnections)
		r.ups[name] = &upstream{
			srv:  srv,
			hc:   hc,
			pool: keypool.New([]keypool.Key{{Secret: name + "-k0"}, {Secret: name + "-k1"}, {Secret: name + "-k2"}}, keypool.Options{}),
			br:   breaker.New(breaker.Options{ConsecutiveFailures: 3, OpenFor: time.Minute}),
		}
	}
	return r
}

var chainAB = []retry.Target{{Provider: "a", Model: "m"}, {Provider: "b", Model: "m"}}

func keysSeen(s *Server) []string {
	var ks []string
	for _, r := range s.Log() {
		ks = append(ks, r.Key)
	}
	return ks
}

func TestSketchRetriesOnAnotherKeyThenFallsBack(t *testing.T) {
	r := newSketch(t, retry.Policy{MaxAttempts: 4, PerTarget: 2, BaseBackoff: time.Millisecond}, retry.LimiterOptions{}, "a", "b")
	a, b := r.ups["a"], r.ups["b"]
	a.srv.Enqueue(Script{Kind: Status, Status: 503}, Script{Kind: Reset})
	res := r.do(t, chainAB, false)
	if res.status != 200 || res.attempts != 3 || !strings.Contains(res.body, Content(3)) {
		t.Fatalf("result %+v", res)
	}
	ka := keysSeen(a.srv)
	if len(ka) != 2 || ka[0] == ka[1] {
		t.Fatalf("primary keys %v: want two different keys", ka)
	}
	if b.srv.Requests() != 1 {
		t.Fatalf("fallback saw %d requests", b.srv.Requests())
	}
}

func TestSketchSingleKeyRetriesTransientFailure(t *testing.T) {
	r := newSketch(t, retry.Policy{MaxAttempts: 3, PerTarget: 3, BaseBackoff: time.Millisecond}, retry.LimiterOptions{}, "a")
	a := r.ups["a"]
	a.pool = keypool.New([]keypool.Key{{Secret: "only"}}, keypool.Options{})
	a.srv.Enqueue(Script{Kind: Reset}, Script{Kind: Status, Status: 500})
	res := r.do(t, chainAB[:1], false)
	if res.status != 200 || res.attempts != 3 || a.srv.Requests() != 3 {
		t.Fatalf("result %+v after %d requests", res, a.srv.Requests())
	}
	// A 429 on the only key leaves nothing to retry with: the client gets it.
	a.srv.Enqueue(Script{Kind: Status, Status: 429, RetryAfter: "9"})
	res = r.do(t, chainAB[:1], false)
	if res.status != 429 || res.attempts != 1 || res.retryAfter != 9*time.Second {
		t.Fatalf("429 result %+v", res)
	}
}

func TestSketchRateLimitAndAuthMoveKeys(t *testing.T) {
	r := newSketch(t, retry.Policy{MaxAttempts: 3, PerTarget: 3}, retry.LimiterOptions{}, "a", "b")
	a := r.ups["a"]
	a.srv.Enqueue(Script{Kind: Status, Status: 429, RetryAfter: "30"}, Script{Kind: Status, Status: 401})
	res := r.do(t, chainAB, false)
	if res.status != 200 || res.attempts != 3 {
		t.Fatalf("result %+v", res)
	}
	states := map[keypool.State]int{}
	for _, ks := range a.pool.Snapshot() {
		states[ks.State]++
	}
	if states[keypool.Cooldown] != 1 || states[keypool.Disabled] != 1 || states[keypool.Healthy] != 1 {
		t.Fatalf("key states %v", a.pool.Snapshot())
	}
	// Later requests only use the remaining key, without new failures.
	for range 3 {
		if res := r.do(t, chainAB, false); res.status != 200 || res.attempts != 1 {
			t.Fatalf("follow-up %+v", res)
		}
	}
	ks := keysSeen(a.srv)
	for _, k := range ks[3:] {
		if k != ks[2] {
			t.Fatalf("follow-ups used %v, want only %s", ks[3:], ks[2])
		}
	}
	if r.ups["a"].br.State() != breaker.Closed {
		t.Fatal("key-level failures opened the provider breaker")
	}
}

func TestSketchBreakerSkipsDeadProvider(t *testing.T) {
	r := newSketch(t, retry.Policy{MaxAttempts: 3, PerTarget: 3, BaseBackoff: time.Millisecond}, retry.LimiterOptions{}, "a", "b")
	a, b := r.ups["a"], r.ups["b"]
	a.srv.SetDefault(Script{Kind: Status, Status: 502})
	// Three 502s open a's breaker and exhaust the attempts.
	if res := r.do(t, chainAB, false); res.status != 502 || res.attempts != 3 {
		t.Fatalf("first %+v", res)
	}
	if a.br.State() != breaker.Open {
		t.Fatalf("breaker %v", a.br.State())
	}
	// Now a is skipped without a request and b answers.
	before := a.srv.Requests()
	if res := r.do(t, chainAB, false); res.status != 200 || res.attempts != 1 {
		t.Fatalf("second %+v", res)
	}
	if a.srv.Requests() != before || b.srv.Requests() != 1 {
		t.Fatalf("a saw %d new, b saw %d", a.srv.Requests()-before, b.srv.Requests())
	}
	// With the whole chain unusable the client gets 503 and a Retry-After.
	b.br = breaker.New(breaker.Options{ConsecutiveFailures: 1, OpenFor: time.Minute})
	tk, _ := b.br.Allow(time.Now())
	b.br.Done(tk, false)
	if res := r.do(t, chainAB, false); res.status != 503 || res.attempts != 0 || res.retryAfter < 59*time.Second {
		t.Fatalf("all open %+v", res)
	}
}

func TestSketchOverloadAndNoRetryAfterCommit(t *testing.T) {
	r := newSketch(t, retry.Policy{}, retry.LimiterOptions{MaxStreams: 1, RetryAfter: 2 * time.Second}, "a", "b")
	hold, err := r.lim.Admit(true)
	if err != nil {
		t.Fatal(err)
	}
	if res := r.do(t, chainAB, true); res.status != 503 || res.retryAfter != 2*time.Second {
		t.Fatalf("over stream bound %+v", res)
	}
	hold()
	// A stream that breaks after its headers were relayed is not retried.
	r.ups["a"].srv.Enqueue(Script{Kind: Truncate, Chunks: 1})
	res := r.do(t, chainAB, true)
	if !res.broken || res.attempts != 1 || r.ups["a"].srv.Requests() != 1 || r.ups["b"].srv.Requests() != 0 {
		t.Fatalf("committed stream retried: %+v", res)
	}
}

// TestFasthttpTruncatedChunkedStreamIsCleanEOF pins a fasthttp v1.74.0
// behaviour the relay must allow for: a streamed chunked body whose
// connection closes between chunks ends with io.EOF, not an error.
func TestFasthttpTruncatedChunkedStreamIsCleanEOF(t *testing.T) {
	srv := startServer(t, Script{Kind: Truncate, Chunks: 2})
	hc := newHostClient(srv)
	t.Cleanup(hc.CloseIdleConnections)
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(srv.URL() + "/v1/chat/completions")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetBodyString(streamBody)
	resp.StreamBody = true
	if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.BodyStream())
	_ = resp.CloseBodyStream()
	text, done := streamText(t, events(string(b)))
	if err != nil || done || text != Content(2) {
		t.Fatalf("read %q, err %v, done %v: fasthttp now reports truncation itself", text, err, done)
	}
}

// newHostClient dials without fasthttp's default dialer, whose DNS cache
// cleaner goroutine lives for the whole process and would trip goleak; a
// short idle time lets the client's connection cleaner exit after the test.
func newHostClient(srv *Server) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                srv.Addr(),
		MaxIdleConnDuration: 50 * time.Millisecond,
		Dial: func(addr string) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, 5*time.Second)
		},
	}
}
