package proxy

import (
	"bufio"
	"context"
	"fmt"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// streamEvents posts a stream request and returns the parsed data events on
// a channel (closed at the end of the body) and a function that stops it.
func streamEvents(t *testing.T, c *http.Client, url, body string, hdr map[string]string) (<-chan string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("stream request: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		cancel()
		t.Fatalf("stream answered %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	events := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		r := bufio.NewReader(resp.Body)
		for {
			d, err := readDataEvent(r)
			if err != nil {
				return
			}
			select {
			case events <- d:
			case <-ctx.Done():
				return
			}
		}
	}()
	return events, func() {
		cancel()
		_ = resp.Body.Close()
		<-done
	}
}

// TestRelayEventByEvent proves that no event waits for a later one: the test
// upstream sends event i+1 only after the client has received event i, so a
// proxy that held an event back would never see the next one and the test
// would time out. Odd events arrive in two writes, to check that a partial
// event is completed rather than split or dropped.
func TestRelayEventByEvent(t *testing.T) {
	const n = 20
	seen := make(chan int)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		for i := 0; i < n; i++ {
			ev := fmt.Sprintf("data: {\"i\":%d,\"pad\":%q}\n\n", i, strings.Repeat("x", i*37))
			if i%2 == 1 {
				half := len(ev) / 2
				_, _ = io.WriteString(w, ev[:half])
				f.Flush()
				ev = ev[half:]
			}
			_, _ = io.WriteString(w, ev)
			f.Flush()
			select {
			case got := <-seen:
				if got != i {
					return
				}
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	_, base := startProxy(t, baseConfig(openaiProvider("up", up, "step-model")))
	events, stop := streamEvents(t, httpClient(t), base+"/v1/chat/completions", chatBody("step-model", true), bearer(testKey))
	defer stop()
	for i := 0; i < n; i++ {
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatalf("stream ended before event %d", i)
			}
			want := fmt.Sprintf("{\"i\":%d,\"pad\":%q}", i, strings.Repeat("x", i*37))
			if d != want {
				t.Fatalf("event %d = %q, want %q", i, d, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d did not reach the client before the upstream sent a later one", i)
		}
		select {
		case seen <- i:
		case <-time.After(5 * time.Second):
			t.Fatalf("upstream stopped waiting after event %d", i)
		}
	}
	select {
	case d := <-events:
		if d != "[DONE]" {
			t.Fatalf("last event = %q, want [DONE]", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("[DONE] not relayed")
	}
}

// TestClientDisconnectClosesUpstream checks that when a client goes away
// mid-stream the proxy closes its upstream connection promptly, whether the
// upstream is idle (only a heartbeat can notice) or still streaming.
func TestClientDisconnectClosesUpstream(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration // 0: one event, then silence
	}{
		{name: "idle-upstream"},
		{name: "slow-upstream", every: 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan struct{})
			up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(closed)
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				f := w.(http.Flusher)
				tick := time.NewTicker(time.Hour)
				if tc.every > 0 {
					tick.Reset(tc.every)
				}
				defer tick.Stop()
				// Bounded so that a proxy that never closes fails the test
				// instead of hanging it.
				limit := time.NewTimer(10 * time.Second)
				defer limit.Stop()
				for i := 0; ; i++ {
					if _, err := fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i); err != nil {
						return
					}
					f.Flush()
					select {
					case <-r.Context().Done():
						return
					case <-limit.C:
						return
					case <-tick.C:
					}
				}
			}))
			_, base := startProxy(t, baseConfig(openaiProvider("up", up, "m")))
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			body := chatBody("m", true)
			fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			status, err := br.ReadString('\n')
			if err != nil || !strings.Contains(status, " 200 ") {
				t.Fatalf("status line %q: %v", status, err)
			}
			// Wait for the first event's bytes, then hang up.
			if _, err := br.ReadString('{'); err != nil {
				t.Fatalf("no event: %v", err)
			}
			if err := conn.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-closed:
			case <-time.After(2 * time.Second):
				t.Fatal("upstream connection still open 2 s after the client disconnected")
			}
		})
	}
}

// TestTruncatedUpstreamStream checks that a stream the upstream ends without
// its terminator reaches the client as an error, never as a clean finish.
func TestTruncatedUpstreamStream(t *testing.T) {
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 10}})
	abrupt := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		a := mock.Answer{Model: "abrupt", Tokens: 10}
		var b []byte
		for i := 0; i < 4; i++ {
			b, _ = a.AppendEvent(b, i)
		}
		_, _ = w.Write(b)
		w.(http.Flusher).Flush()
		// Drop the connection mid-body: no chunked terminator at all.
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = c.Close()
		}
	}))
	cfg := baseConfig(openaiProvider("remote", up, "mock-gpt"), openaiProvider("abrupt", abrupt, "abrupt"), mockProvider("local", 10, "local-gpt"))
	_, base := startProxy(t, cfg)
	hc := httpClient(t)

	tests := []struct {
		name  string
		model string
		hdr   map[string]string
		// content is what arrives before the error.
		content string
	}{
		{"mock-upstream", "mock-gpt", map[string]string{mock.HeaderTruncate: "3"}, mock.Text(3)},
		{"in-process-mock", "local-gpt", map[string]string{mock.HeaderTruncate: "5"}, mock.Text(5)},
		{"connection-dropped", "abrupt", nil, mock.Text(3)},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/raw", func(t *testing.T) {
			hdr := bearer(testKey)
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			events, stop := streamEvents(t, hc, base+"/v1/chat/completions", chatBody(tc.model, true), hdr)
			defer stop()
			var all []string
			for d := range events {
				all = append(all, d)
			}
			if len(all) == 0 {
				t.Fatal("no events")
			}
			last := all[len(all)-1]
			if !strings.HasPrefix(last, `{"error":`) {
				t.Fatalf("last event %q is not an error event (events: %q)", last, all)
			}
			typ, _, _ := openAIError(t, []byte(last))
			if typ == "" {
				t.Fatalf("error event without type: %s", last)
			}
			for _, d := range all {
				if d == "[DONE]" {
					t.Fatalf("truncated stream relayed a [DONE]: %q", all)
				}
			}
		})
		t.Run(tc.name+"/sdk", func(t *testing.T) {
			opts := []option.RequestOption{
				option.WithBaseURL(base + "/v1/"), option.WithAPIKey(testKey),
				option.WithHTTPClient(hc), option.WithMaxRetries(0),
			}
			for k, v := range tc.hdr {
				opts = append(opts, option.WithHeader(k, v))
			}
			client := openai.NewClient(opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:    tc.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			got := ""
			for s.Next() {
				for _, ch := range s.Current().Choices {
					got += ch.Delta.Content
				}
			}
			if s.Err() == nil {
				t.Fatal("SDK saw a clean end of a truncated stream")
			}
			if !strings.Contains(s.Err().Error(), "error") {
				t.Fatalf("SDK error %q", s.Err())
			}
			_ = s.Close()
			if got != tc.content {
				t.Fatalf("content before the error = %q, want %q", got, tc.content)
			}
		})
	}
}
