package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStreamTimeouts checks that the first-byte timeout bounds only the wait
// for an answer, and the idle timeout only the silence between reads: a
// stream slower in total than both must get through, and one that falls
// silent mid-stream must end in an error event and a closed upstream.
func TestStreamTimeouts(t *testing.T) {
	closed := make(chan struct{}, 4)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { closed <- struct{}{} }()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		stallAfter := 1 << 30
		if r.Header.Get("X-Test-Stall") != "" {
			stallAfter = 2
		}
		for i := 0; i < 12; i++ {
			if i == stallAfter {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			}
			fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i)
			f.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(40 * time.Millisecond):
			}
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	p := openaiProvider("up", up, "m")
	// 12 events 40 ms apart take ~500 ms: longer than the first-byte
	// timeout, each gap far inside the idle timeout (a loaded machine can
	// stretch a 40 ms gap several times over).
	p.FirstByteTimeout = 200 * time.Millisecond
	p.IdleTimeout = 1 * time.Second
	cfg := baseConfig(p)
	// Heartbeats off, so that only the idle timeout can end the stalled stream.
	cfg.Server.StreamHeartbeat = 0
	_, base := startProxy(t, cfg)
	hc := httpClient(t)

	t.Run("slow-but-steady", func(t *testing.T) {
		events, stop := streamEvents(t, hc, base+"/v1/chat/completions", chatBody("m", true), bearer(testKey))
		defer stop()
		var all []string
		for d := range events {
			all = append(all, d)
		}
		if len(all) != 13 || all[12] != "[DONE]" {
			t.Fatalf("events %q", all)
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("upstream handler still running after [DONE]")
		}
	})
	t.Run("silent-mid-stream", func(t *testing.T) {
		hdr := bearer(testKey)
		hdr["X-Test-Stall"] = "1"
		events, stop := streamEvents(t, hc, base+"/v1/chat/completions", chatBody("m", true), hdr)
		defer stop()
		var all []string
		for d := range events {
			all = append(all, d)
		}
		if len(all) != 3 || all[0] != `{"i":0}` || !strings.HasPrefix(all[2], `{"error":`) {
			t.Fatalf("events %q, want two data events and an error event", all)
		}
		if _, code, _ := openAIError(t, []byte(all[2])); code != "timeout" {
			t.Fatalf("error event code %q, want timeout: %s", code, all[2])
		}
		select {
		case <-closed:
		case <-time.After(3 * time.Second):
			t.Fatal("upstream connection not closed after the idle timeout")
		}
	})
}
