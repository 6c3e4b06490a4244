package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"go.uber.org/zap"
)

// TestHeartbeat checks that an idle stream gets ": ping" comments, and that
// the stream carries on normally after them: the upstream sends its
// terminator only once the client has seen a heartbeat.
func TestHeartbeat(t *testing.T) {
	pinged := make(chan struct{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"i\":0}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-pinged:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			return
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	cfg := baseConfig(openaiProvider("up", up, "m"))
	cfg.Server.StreamHeartbeat = 50 * time.Millisecond
	_, base := startProxy(t, cfg)
	hc := httpClient(t)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(chatBody("m", true)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var data []string
	pingsBetween := 0
	for {
		ev, err := readEvent(r)
		if err != nil {
			t.Fatalf("stream ended after %q: %v", data, err)
		}
		if ev.comment {
			// Pings before the first event do not count: the upstream
			// waits for one after it.
			if len(data) == 1 {
				if pingsBetween == 0 {
					close(pinged)
				}
				pingsBetween++
			}
			continue
		}
		data = append(data, ev.data)
		if ev.data == "[DONE]" {
			break
		}
	}
	if len(data) != 2 || data[0] != `{"i":0}` || pingsBetween == 0 {
		t.Fatalf("events %q with %d pings between them", data, pingsBetween)
	}
}

// TestGracefulShutdown checks that Shutdown lets a stream in flight finish
// whole, and that the listener is closed to new connections.
func TestGracefulShutdown(t *testing.T) {
	srv, err := New(baseConfig(mockProvider("local", 8, "local-gpt")), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	hc := httpClient(t)

	hdr := bearer(testKey)
	hdr[mock.HeaderDelay] = "40ms"
	events, stop := streamEvents(t, hc, base+"/v1/chat/completions", chatBody("local-gpt", true), hdr)
	defer stop()
	if _, ok := <-events; !ok {
		t.Fatal("no first event")
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	var all []string
	for d := range events {
		all = append(all, d)
	}
	// The role chunk was read above: 8 content chunks, finish, [DONE].
	if len(all) != 10 || all[9] != "[DONE]" {
		t.Fatalf("stream cut by shutdown: %d events, last %q", len(all), all[len(all)-1])
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the stream ended")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("listener still accepting after Shutdown")
	}
}
