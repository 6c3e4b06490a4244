package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

const streamBody = `{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`
const plainBody = `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`

func startServer(t *testing.T, def Script) *Server {
	t.Helper()
	s, err := Start(def)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
}

func post(ctx context.Context, c *http.Client, s *Server, body string, hdr ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test-1")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.Do(req)
}

// events splits an SSE body into its data payloads.
func events(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if d, ok := strings.CutPrefix(ev, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// streamText concatenates delta.content of chunk events and reports [DONE].
func streamText(t *testing.T, evs []string) (string, bool) {
	t.Helper()
	var b strings.Builder
	done := false
	for _, e := range evs {
		if e == "[DONE]" {
			done = true
			continue
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", e, err)
		}
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("object %q", c.Object)
		}
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String(), done
}

func TestCompleteResponses(t *testing.T) {
	s := startServer(t, Script{})
	c := newClient()
	tests := []struct {
		name   string
		body   string
		hdr    []string
		status int
		check  func(t *testing.T, resp *http.Response, body string)
	}{
		{"non-stream", plainBody, nil, 200, func(t *testing.T, _ *http.Response, body string) {
			var r struct {
				Object  string
				Model   string
				Choices []struct {
					Message      struct{ Role, Content string }
					FinishReason string `json:"finish_reason"`
				}
				Usage struct {
					Total int `json:"total_tokens"`
				}
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			if r.Object != "chat.completion" || r.Model != "gpt-test" || len(r.Choices) != 1 ||
				r.Choices[0].Message.Content != Content(3) || r.Choices[0].FinishReason != "stop" || r.Usage.Total != 4 {
				t.Fatalf("completion %+v", r)
			}
		}},
		{"stream", streamBody, nil, 200, func(t *testing.T, resp *http.Response, body string) {
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Fatalf("content type %q", ct)
			}
			evs := events(body)
			text, done := streamText(t, evs)
			if text != Content(3) || !done || len(evs) != 5 || !strings.Contains(evs[3], `"finish_reason":"stop"`) {
				t.Fatalf("stream %q", body)
			}
		}},
		{"stream with usage", `{"model":"m2","stream":true,"stream_options":{"include_usage":true}}`, []string{HeaderFault, "ok;chunks=2"}, 200,
			func(t *testing.T, _ *http.Response, body string) {
				evs := events(body)
				if len(evs) != 5 || !strings.Contains(evs[3], `"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}`) {
					t.Fatalf("stream %q", body)
				}
			}},
		{"slow stream", streamBody, []string{HeaderFault, "slow;chunks=4;gap=2ms"}, 200, func(t *testing.T, _ *http.Response, body string) {
			if text, done := streamText(t, events(body)); text != Content(4) || !done {
				t.Fatalf("slow stream %q", body)
			}
		}},
		{"stall then answer", plainBody, []string{HeaderFault, "stall;delay=5ms"}, 200, func(t *testing.T, _ *http.Response, body string) {
			if !strings.Contains(body, Content(3)) {
				t.Fatalf("body %q", body)
			}
		}},
		{"stall then stream", streamBody, []string{HeaderFault, "stall;delay=5ms;chunks=2"}, 200, func(t *testing.T, _ *http.Response, body string) {
			if text, done := streamText(t, events(body)); text != Content(2) || !done {
				t.Fatalf("stream %q", body)
			}
		}},
		{"stream stall that resumes", streamBody, []string{HeaderFault, "stream-stall;chunks=2;delay=5ms"}, 200, func(t *testing.T, _ *http.Response, body string) {
			if text, done := streamText(t, events(body)); text != Content(2) || !done {
				t.Fatalf("stream %q", body)
			}
		}},
		{"malformed", streamBody, []string{HeaderFault, "malformed"}, 200, func(t *testing.T, _ *http.Response, body string) {
			evs := events(body)
			if !strings.Contains(body, "this line is not server-sent events") || evs[len(evs)-1] != "[DONE]" {
				t.Fatalf("body %q", body)
			}
			var v any
			if json.Unmarshal([]byte(evs[1]), &v) == nil {
				t.Fatalf("second event is valid JSON: %q", evs[1])
			}
		}},
		{"huge line", streamBody, []string{HeaderFault, "huge-line"}, 200, func(t *testing.T, _ *http.Response, body string) {
			evs := events(body)
			if len(evs[0]) <= 1<<20 || evs[len(evs)-1] != "[DONE]" {
				t.Fatalf("first event %d bytes, %d events", len(evs[0]), len(evs))
			}
			if text, _ := streamText(t, evs); len(text) != 1<<20+1<<10 {
				t.Fatalf("huge content %d bytes", len(text))
			}
		}},
		{"503", plainBody, []string{HeaderFault, "503"}, 503, func(t *testing.T, resp *http.Response, body string) {
			if resp.Header.Get("Retry-After") != "" || !strings.Contains(body, `"service_unavailable"`) {
				t.Fatalf("503 %q %v", body, resp.Header)
			}
		}},
		{"429 with retry-after", plainBody, []string{HeaderFault, "429;retry-after=3"}, 429, func(t *testing.T, resp *http.Response, body string) {
			if resp.Header.Get("Retry-After") != "3" || !strings.Contains(body, `"rate_limit_exceeded"`) {
				t.Fatalf("429 %q %v", body, resp.Header)
			}
		}},
		{"bad fault header", plainBody, []string{HeaderFault, "explode"}, 400, func(*testing.T, *http.Response, string) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := post(context.Background(), c, s, tc.body, tc.hdr...)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			tc.check(t, resp, string(b))
		})
	}
	if n := s.DisconnectCount(); n != 0 {
		t.Fatalf("complete responses reported %d disconnects", n)
	}
}

func TestBrokenResponses(t *testing.T) {
	s := startServer(t, Script{})
	c := newClient()

	t.Run("reset before headers", func(t *testing.T) {
		_, err := post(context.Background(), c, s, plainBody, HeaderFault, "reset")
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("want connection reset, got %v", err)
		}
	})
	t.Run("truncated stream", func(t *testing.T) {
		resp, err := post(context.Background(), c, s, streamBody, HeaderFault, "truncate;chunks=2")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want unexpected EOF, got %v", err)
		}
		text, done := streamText(t, events(string(b)))
		if text != Content(2) || done {
			t.Fatalf("truncated stream: %q done=%v", text, done)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		addr, err := ClosedAddr()
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			conn.Close()
			t.Fatal("closed address accepted a connection")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("want refused, got %v", err)
		}
	})
	if n := s.DisconnectCount(); n != 0 {
		t.Fatalf("server-side faults reported %d client disconnects", n)
	}
}

func waitDisconnect(t *testing.T, s *Server) Disconnect {
	t.Helper()
	select {
	case d := <-s.Disconnects():
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no disconnect observed")
	}
	return Disconnect{}
}

func TestClientDisconnectObserved(t *testing.T) {
	s := startServer(t, Script{})
	c := newClient()

	t.Run("mid-stream", func(t *testing.T) {
		resp, err := post(context.Background(), c, s, streamBody, HeaderFault, "stream-stall;chunks=2")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for got := 0; got < 2; {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("after %d chunks: %v", got, err)
			}
			if strings.HasPrefix(line, "data: ") {
				got++
			}
		}
		resp.Body.Close() // the client gives up on the stalled stream
		d := waitDisconnect(t, s)
		if d.Chunks != 2 || d.Script.Kind != StreamStall {
			t.Fatalf("disconnect %+v", d)
		}
	})
	t.Run("before headers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		before := s.Requests()
		errc := make(chan error, 1)
		go func() {
			resp, err := post(ctx, c, s, plainBody, HeaderFault, "stall")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		for limit := time.Now().Add(10 * time.Second); s.Requests() == before; time.Sleep(time.Millisecond) {
			if time.Now().After(limit) {
				t.Fatal("request never arrived")
			}
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("client error %v", err)
		}
		if d := waitDisconnect(t, s); d.Chunks != 0 || d.Script.Kind != Stall {
			t.Fatalf("disconnect %+v", d)
		}
	})
}

func TestQueueAndLog(t *testing.T) {
	s := startServer(t, Script{Kind: Status, Status: 502})
	c := newClient()
	s.Enqueue(Script{Kind: Status, Status: 503}, Script{Kind: OK})
	if s.Pending() != 2 {
		t.Fatalf("pending %d", s.Pending())
	}
	var got []int
	for i, hdr := range [][]string{nil, {HeaderFault, "429"}, nil, nil} {
		if i == 2 {
			hdr = []string{"Authorization", "", "x-api-key", "sk-ant-2"}
		}
		resp, err := post(context.Background(), c, s, plainBody, hdr...)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	// The header wins without consuming the queue; the default follows it.
	want := []int{503, 429, 200, 502}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	log := s.Log()
	if s.Requests() != 4 || len(log) != 4 {
		t.Fatalf("requests %d log %d", s.Requests(), len(log))
	}
	if log[0].Key != "sk-test-1" || log[2].Key != "sk-ant-2" || log[0].Model != "gpt-test" ||
		log[0].Path != "/v1/chat/completions" || log[0].Method != "POST" || log[1].Script.Status != 429 {
		t.Fatalf("log %+v", log)
	}
	s.SetDefault(Script{})
	resp, err := post(context.Background(), c, s, plainBody)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("new default: %d", resp.StatusCode)
	}
}

func TestCloseEndsStalledStreams(t *testing.T) {
	s, err := Start(Script{Kind: StreamStall, Chunks: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient()
	resp, err := post(context.Background(), c, s, streamBody)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := io.ReadAll(br); err == nil {
		t.Fatal("stalled stream ended cleanly after server close")
	}
	if s.DisconnectCount() != 0 {
		t.Fatal("server close counted as a client disconnect")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
