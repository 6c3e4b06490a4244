package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/faults"
)

// TestFaultsBadStreams covers upstream streams whose content is odd: broken
// SSE, and one line over 1 MB (relayed whole under the default event bound,
// refused with an error event under a smaller one).
func TestFaultsBadStreams(t *testing.T) {
	tests := []struct {
		name     string
		script   faults.Script
		maxEvent int
		anthro   bool // ask in Anthropic Messages (a converted stream)
		status   int  // 200 unless set
		check    func(t *testing.T, body string)
	}{
		{name: "malformed-sse/pass-through", script: faults.Script{Kind: faults.Malformed}, check: func(t *testing.T, body string) {
			// Same protocol: relayed byte for byte, terminator included.
			if !strings.Contains(body, "this line is not server-sent events") || !strings.HasSuffix(body, "data: [DONE]\n\n") {
				t.Fatalf("pass-through body %q", body)
			}
		}},
		{name: "malformed-sse/converted", script: faults.Script{Kind: faults.Malformed}, anthro: true, check: func(t *testing.T, body string) {
			if !strings.Contains(body, "event: error\n") || strings.Contains(body, "message_stop") {
				t.Fatalf("converted body lacks the error event: %q", body)
			}
		}},
		{name: "line-over-1MB", script: faults.Script{Kind: faults.HugeLine, Size: 1<<20 + 1<<10}, check: func(t *testing.T, body string) {
			if len(body) < 1<<20 || !strings.HasSuffix(body, "data: [DONE]\n\n") {
				t.Fatalf("huge line not relayed whole: %d bytes, tail %q", len(body), body[max(0, len(body)-40):])
			}
		}},
		// The huge line is the first event: still held back, so the client
		// gets a plain 502 rather than a stream.
		{name: "line-over-bound", script: faults.Script{Kind: faults.HugeLine, Size: 1<<20 + 1<<10}, maxEvent: 1 << 20, status: 502, check: func(t *testing.T, body string) {
			if typ, code, msg := openAIError(t, []byte(body)); typ != "server_error" || code != "bad_gateway" || !strings.Contains(msg, "size limit") {
				t.Fatalf("over-bound line: %s", body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			a := startFaults(t, tc.script)
			cfg := baseConfig(faultProvider("a", a.URL(), 1))
			if tc.maxEvent > 0 {
				cfg.Server.MaxEventBytes = tc.maxEvent
			}
			srv, base := startFaultProxy(t, cfg)
			hc := httpClient(t)
			path, body := "/v1/chat/completions", chatBody(faultModel, true)
			hdr := bearer(testKey)
			if tc.anthro {
				path = "/v1/messages"
				body = `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
				hdr["anthropic-version"] = "2023-06-01"
			}
			req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if want := max(tc.status, 200); resp.StatusCode != want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, b)
			}
			tc.check(t, string(b))
			waitIdle(t, srv, hc)
		})
	}
}

// TestClientDisconnectsMidStream checks that the upstream request ends
// within 2 s of the client leaving, and that the client's leaving does not
// count against the key.
func TestClientDisconnectsMidStream(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.Slow, Chunks: 1000, Gap: 20 * time.Millisecond})
	srv, base := startFaultProxy(t, faultConfig(faultProvider("a", a.URL(), 1), faultProvider("b", startFaults(t, faults.Script{}).URL(), 1)))
	c, br := rawStream(t, base, 0)
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := br.ReadString('}'); err != nil { // some of the first event
		t.Fatal(err)
	}
	_ = c.Close()
	waitDisconnect(t, a, 2*time.Second)
	waitIdle(t, srv, httpClient(t))
	for _, k := range srv.current().ups["a"].pool.Snapshot() {
		if k.WindowFailures != 0 {
			t.Fatalf("client disconnect counted against key %+v", k)
		}
	}
}

// TestSlowClient reads one byte a second: the relay's write to it must time
// out and release the upstream stream instead of holding it as long as the
// client dawdles.
func TestSlowClient(t *testing.T) {
	checkLeaks(t)
	// An upstream that streams far more than the socket buffers on both
	// sides of the client connection hold.
	a := startFaults(t, faults.Script{Kind: faults.Slow, Chunks: 200000, Gap: time.Nanosecond})
	cfg := baseConfig(faultProvider("a", a.URL(), 1))
	cfg.Server.WriteTimeout = 300 * time.Millisecond
	srv, base := startFaultProxy(t, cfg)
	c, br := rawStream(t, base, 4096)
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1)
		for {
			if _, err := io.ReadFull(br, buf); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	waitDisconnect(t, a, 3*time.Second)
	close(stop)
	_ = c.Close()
	<-done
	waitIdle(t, srv, httpClient(t))
}

// TestClientDisconnectsBeforeFirstEvent: while the proxy holds a stream
// back for its first event (no headers sent yet, so no heartbeat can reach
// the client), a client that leaves is still noticed, by peeking at its
// socket every heartbeat tick, and the upstream closed at once instead of
// generating on until the first-byte timeout; nothing is retried.
func TestClientDisconnectsBeforeFirstEvent(t *testing.T) {
	checkLeaks(t)
	var requests atomic.Int32
	gone := make(chan struct{}, 4)
	arrived := make(chan struct{}, 4)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // headers, then a model that thinks for a long time
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
		case <-time.After(20 * time.Second):
		}
	}))
	p := openaiProvider("a", up, faultModel)
	p.FirstByteTimeout = 30 * time.Second
	p.IdleTimeout = 30 * time.Second
	cfg := baseConfig(p)
	cfg.Server.StreamHeartbeat = 100 * time.Millisecond
	srv, base := startFaultProxy(t, cfg)
	c, _ := rawStream(t, base, 0)
	select {
	case <-arrived: // the request reached the silent upstream
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	_ = c.Close()
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream connection was not closed within 2 s of the client leaving")
	}
	waitIdle(t, srv, httpClient(t))
	if n := requests.Load(); n != 1 {
		t.Fatalf("upstream saw %d requests: the client's leaving was retried", n)
	}
}
