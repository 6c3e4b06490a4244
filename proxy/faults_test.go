package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/faults"
	"github.com/llmproxy/proxy/proxy/config"
)

// TestFaultsServedByRetryOrFailover injects one upstream fault before any
// byte reached the client and checks that the client is served in full,
// by another key of the same provider or by the fallback provider, and that
// nothing leaked.
func TestFaultsServedByRetryOrFailover(t *testing.T) {
	tests := []struct {
		name string
		// dead makes provider a unreachable (connection refused).
		dead   bool
		faults []faults.Script // queued on provider a
		stream bool
		// aRequests and bRequests are what each upstream must have seen.
		aRequests, bRequests int64
		// otherKey: the retry on a must use another key (a reset may
		// instead be retried by the HTTP client itself on a new connection).
		otherKey bool
	}{
		{name: "connection-refused", dead: true, bRequests: 1},
		{name: "connection-refused/stream", dead: true, stream: true, bRequests: 1},
		{name: "reset-before-headers", faults: []faults.Script{{Kind: faults.Reset}}, aRequests: 2},
		{name: "reset-before-headers/stream", faults: []faults.Script{{Kind: faults.Reset}}, stream: true, aRequests: 2},
		{name: "500", faults: []faults.Script{{Kind: faults.Status, Status: 500}, {Kind: faults.Status, Status: 500}}, aRequests: 2, bRequests: 1},
		{name: "502", faults: []faults.Script{{Kind: faults.Status, Status: 502}}, aRequests: 2, otherKey: true},
		{name: "503/stream", faults: []faults.Script{{Kind: faults.Status, Status: 503}, {Kind: faults.Status, Status: 503}}, stream: true, aRequests: 2, bRequests: 1},
		{name: "429-retry-after", faults: []faults.Script{{Kind: faults.Status, Status: 429, RetryAfter: "30"}}, aRequests: 2, otherKey: true},
		{name: "429-no-retry-after/stream", faults: []faults.Script{{Kind: faults.Status, Status: 429}}, stream: true, aRequests: 2, otherKey: true},
		{name: "401-key-revoked", faults: []faults.Script{{Kind: faults.Status, Status: 401}}, aRequests: 2, otherKey: true},
		{name: "stall-before-headers", faults: []faults.Script{{Kind: faults.Stall, Delay: 5 * time.Second}}, aRequests: 2},
		{name: "stall-before-headers/stream", faults: []faults.Script{{Kind: faults.Stall, Delay: 5 * time.Second}}, stream: true, aRequests: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			a := startFaults(t, faults.Script{})
			b := startFaults(t, faults.Script{})
			aURL := a.URL()
			if tc.dead {
				addr, err := faults.ClosedAddr()
				if err != nil {
					t.Fatal(err)
				}
				aURL = "http://" + addr
			}
			pa := faultProvider("a", aURL, 3)
			pa.FirstByteTimeout = 300 * time.Millisecond
			a.Enqueue(tc.faults...)
			srv, base := startFaultProxy(t, faultConfig(pa, faultProvider("b", b.URL(), 1)))
			hc := httpClient(t)
			got := chat(t, hc, base, tc.stream, nil)
			if got.status != 200 || got.text != faults.Content(3) || (tc.stream && !got.done) || got.streamErr != "" {
				t.Fatalf("client got %+v", got)
			}
			if !tc.dead && a.Requests() != tc.aRequests || b.Requests() != tc.bRequests {
				t.Fatalf("upstream a saw %d requests (want %d), b %d (want %d)", a.Requests(), tc.aRequests, b.Requests(), tc.bRequests)
			}
			if ks := keysSeen(a); tc.otherKey && (len(ks) != 2 || ks[0] == ks[1]) {
				t.Fatalf("retry reused key %s", ks[0])
			}
			_, m := do(t, hc, http.MethodGet, base+"/metrics", "", nil)
			metricsText := string(m)
			if tc.bRequests > 0 && !strings.Contains(metricsText, `proxy_failovers_total{from="a",to="b"} 1`) {
				t.Fatalf("failover not counted:\n%s", grepLines(metricsText, "failovers"))
			}
			if tc.otherKey && !strings.Contains(metricsText, `proxy_retries_total{provider="a"} 1`) {
				t.Fatalf("retry not counted:\n%s", grepLines(metricsText, "retries"))
			}
			waitIdle(t, srv, hc)
		})
	}
}

// TestFaultsAfterCommit injects faults once the stream's first event went
// to the client: no retry may happen, and the client must be told in its
// protocol that the stream broke (never a silent clean end).
func TestFaultsAfterCommit(t *testing.T) {
	tests := []struct {
		name   string
		script faults.Script
		// errPart is a substring of the in-stream error message.
		errPart string
		text    string
		total   time.Duration // the provider's total timeout
		prefix  bool          // text need only be a non-empty prefix
	}{
		{name: "stall-mid-stream", script: faults.Script{Kind: faults.StreamStall, Chunks: 2}, errPart: "upstream", text: faults.Content(2)},
		{name: "truncated-stream", script: faults.Script{Kind: faults.Truncate, Chunks: 2}, errPart: "terminator", text: faults.Content(2)},
		{name: "total-timeout", script: faults.Script{Kind: faults.Slow, Chunks: 100, Gap: 100 * time.Millisecond}, total: 250 * time.Millisecond, errPart: "total timeout", text: faults.Content(100), prefix: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			a := startFaults(t, faults.Script{})
			b := startFaults(t, faults.Script{})
			pa := faultProvider("a", a.URL(), 3)
			pa.IdleTimeout = 300 * time.Millisecond
			pa.Timeouts.Total = tc.total
			a.Enqueue(tc.script)
			srv, base := startFaultProxy(t, faultConfig(pa, faultProvider("b", b.URL(), 1)))
			hc := httpClient(t)
			got := chat(t, hc, base, true, nil)
			textOK := got.text == tc.text || tc.prefix && got.text != "" && strings.HasPrefix(tc.text, got.text)
			if got.status != 200 || got.done || !textOK || !strings.Contains(got.streamErr, tc.errPart) {
				t.Fatalf("client got %+v", got)
			}
			if a.Requests() != 1 || b.Requests() != 0 {
				t.Fatalf("committed stream retried: a %d, b %d requests", a.Requests(), b.Requests())
			}
			waitIdle(t, srv, hc)
		})
	}
}

// TestHoldBackFirstEvent checks the hold-back of a stream's first event:
// an upstream stream that answers 200 but then ends, breaks or sends an
// error event before any content is failed over, and the client sees only
// the good stream, byte for byte as that upstream sent it.
func TestHoldBackFirstEvent(t *testing.T) {
	good := "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"},\"finish_reason\":null}]}\n\n" +
		": keep-alive comment\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
		"data: [DONE]\n\n"
	tests := []struct {
		name  string
		first string // what the failing upstream streams after its 200 headers
	}{
		{name: "empty-body", first: ""},
		{name: "comment-then-end", first: ": processing\n\n"},
		{name: "error-event", first: "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"},
		{name: "partial-event", first: "data: {\"id\":\"c\",\"obj"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			var calls atomic.Int32
			up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				if calls.Add(1) == 1 {
					_, _ = io.WriteString(w, tc.first)
					return
				}
				_, _ = io.WriteString(w, good)
			}))
			p := openaiProvider("a", up, faultModel)
			p.APIKeys = []string{"k0", "k1"}
			cfg := baseConfig(p)
			cfg.Retry = config.Retry{MaxAttempts: 2, PerTarget: 2, BaseBackoff: time.Millisecond}
			srv, base := startFaultProxy(t, cfg)
			hc := httpClient(t)
			got := chat(t, hc, base, true, nil)
			if got.status != 200 || got.raw != good || calls.Load() != 2 {
				t.Fatalf("after %d upstream calls the client got %+v", calls.Load(), got)
			}
			waitIdle(t, srv, hc)
		})
	}
}

// TestEarlyErrorRelayedWhenNoRetryLeft: with no attempt left, a stream that
// begins with an error event is relayed as it is, so the client sees the
// upstream's own error, and the key is charged with a failure.
func TestEarlyErrorRelayedWhenNoRetryLeft(t *testing.T) {
	checkLeaks(t)
	errEvent := "data: {\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, errEvent)
	}))
	p := openaiProvider("a", up, faultModel)
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 1}
	srv, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	got := chat(t, hc, base, true, nil)
	if got.status != 200 || !strings.HasPrefix(got.raw, errEvent) || got.streamErr != "model overloaded" {
		t.Fatalf("client got %+v", got)
	}
	waitIdle(t, srv, hc)
	if ks := srv.current().ups["a"].pool.Snapshot(); ks[0].WindowFailures != 1 {
		t.Fatalf("key %+v: want the early error counted", ks[0])
	}
}

// TestFirstEventBoundedByFirstByteTimeout: an upstream that sends its
// stream headers and then nothing is cut at the first-byte timeout and
// failed over, though its idle timeout is longer.
func TestFirstEventBoundedByFirstByteTimeout(t *testing.T) {
	checkLeaks(t)
	release := make(chan struct{})
	var calls atomic.Int32
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if calls.Add(1) == 1 {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer close(release)
	p := openaiProvider("a", up, faultModel)
	p.APIKeys = []string{"k0", "k1"}
	p.FirstByteTimeout = 200 * time.Millisecond
	p.IdleTimeout = 10 * time.Second
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 2, PerTarget: 2, BaseBackoff: time.Millisecond}
	srv, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	start := time.Now()
	got := chat(t, hc, base, true, nil)
	if got.status != 200 || got.text != "ok" || !got.done || calls.Load() != 2 {
		t.Fatalf("after %d upstream calls the client got %+v", calls.Load(), got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v: the idle timeout, not the first-byte one, cut the silent stream", d)
	}
	waitIdle(t, srv, hc)
}
