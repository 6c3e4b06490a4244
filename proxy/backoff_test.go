package proxy

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// maxJitter makes every backoff its longest.
type maxJitter struct{}

func (maxJitter) Int64N(n int64) int64 { return n - 1 }

// TestBackoffEndsWhenClientLeaves: a client that hangs up while the proxy
// waits to retry is let go at once (499), and no retry is sent for it,
// instead of the proxy sleeping out the backoff.
func TestBackoffEndsWhenClientLeaves(t *testing.T) {
	var calls atomic.Int32
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"message":"boom","type":"server_error"}}`)
	}))
	cfg := baseConfig(openaiProvider("oai", base, "m"))
	cfg.Retry.MaxAttempts = 3
	cfg.Retry.BaseBackoff = 5 * time.Second
	cfg.Retry.MaxBackoff = 5 * time.Second
	cfg.Retry.MaxTotal = 30 * time.Second
	core, logs := observer.New(zap.InfoLevel)
	srv, url := startLoggedProxy(t, cfg, zap.New(core))
	srv.jitter = maxJitter{}

	conn, err := net.Dial("tcp", url[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
	for calls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	conn.Close()
	deadline := time.Now().Add(4 * time.Second) // well under the 5 s backoff
	for {
		if e := logs.FilterMessage("request").All(); len(e) > 0 {
			if st := e[0].ContextMap()["status"]; st != int64(499) {
				t.Fatalf("status %v, want 499", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer %v after the client left: the backoff was slept out", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("upstream got %d calls, want 1 (no retry for a departed client)", n)
	}
}

// TestQueuedClientThatLeavesGivesUpItsPlace: a request queued for a
// provider's concurrency slot is dropped (499) as soon as its client hangs
// up, instead of waiting out the queue and then calling the upstream.
func TestQueuedClientThatLeavesGivesUpItsPlace(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	}))
	p := openaiProvider("oai", base, "m")
	p.MaxConcurrent, p.Queue, p.QueueWait = 1, 4, 8*time.Second
	core, logs := observer.New(zap.InfoLevel)
	_, url := startLoggedProxy(t, baseConfig(p), zap.New(core))
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	send := func() net.Conn {
		conn, err := net.Dial("tcp", url[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
		return conn
	}
	first := send()
	defer first.Close()
	for calls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	queued := send()
	time.Sleep(200 * time.Millisecond) // let it reach the queue
	queued.Close()
	deadline := time.Now().Add(4 * time.Second) // well under the 8 s queue wait
	for len(logs.FilterMessage("request").All()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queued request outlived its client")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := logs.FilterMessage("request").All()[0].ContextMap()["status"]; st != int64(499) {
		t.Fatalf("status %v, want 499", st)
	}
	close(release)
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("upstream got %d calls, want 1", n)
	}
}
