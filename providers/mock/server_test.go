package mock

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

func startServer(t *testing.T, o ServerOptions) (*Server, string) {
	t.Helper()
	s := NewServer(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	return s, "http://" + ln.Addr().String()
}

// TestServer drives the standalone mock over loopback with each X-Mock-*
// header and the server-wide options.
func TestServer(t *testing.T) {
	s, base := startServer(t, ServerOptions{Behaviour: Behaviour{Tokens: 5}, Models: []string{"a", "b"}})
	_, failing := startServer(t, ServerOptions{Behaviour: Behaviour{Tokens: 5}, ErrorRate: 1, ErrorStatus: 503})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	chat := `{"model":"x","messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name   string
		method string
		url    string
		body   string
		hdr    map[string]string
		status int
		ctype  string
		want   []string
		not    []string
	}{
		{name: "models", method: "GET", url: base + "/v1/models", status: 200, ctype: "application/json", want: []string{`"id":"a"`, `"id":"b"`}},
		{name: "whole", url: base + "/v1/chat/completions", body: chat + "}", status: 200, ctype: "application/json", want: []string{Text(5)}},
		{name: "stream", url: base + "/v1/chat/completions", body: chat + `,"stream":true}`, status: 200, ctype: "text/event-stream", want: []string{"data: [DONE]"}},
		{name: "stream/usage", url: base + "/v1/chat/completions", body: chat + `,"stream":true,"stream_options":{"include_usage":true}}`, status: 200, want: []string{`"usage":{`, "data: [DONE]"}},
		{name: "stream/delay", url: base + "/v1/chat/completions", body: chat + `,"stream":true}`, hdr: map[string]string{HeaderDelay: "2ms", HeaderTokens: "3"}, status: 200, want: []string{Word(2), "data: [DONE]"}},
		{name: "stream/truncate", url: base + "/v1/chat/completions", body: chat + `,"stream":true}`, hdr: map[string]string{HeaderTruncate: "2"}, status: 200, want: []string{Word(1)}, not: []string{Word(2), "[DONE]"}},
		{name: "status", url: base + "/v1/chat/completions", body: chat + "}", hdr: map[string]string{HeaderStatus: "429"}, status: 429, want: []string{`"error"`}},
		{name: "stall", url: base + "/v1/chat/completions", body: chat + "}", hdr: map[string]string{HeaderStall: "20ms"}, status: 200, want: []string{Text(5)}},
		{name: "malformed", url: base + "/v1/chat/completions", body: "{", status: 400, want: []string{`"error"`}},
		{name: "unknown-path", url: base + "/v2/other", body: chat + "}", status: 404, want: []string{`"error"`}},
		{name: "error-rate", url: failing + "/v1/chat/completions", body: chat + "}", status: 503, want: []string{"injected status 503"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, tc.url, strings.NewReader(tc.body))
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Fatalf("body lacks %q: %s", w, b)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(string(b), w) {
					t.Fatalf("body has %q: %s", w, b)
				}
			}
		})
	}
	if s.Requests() != 8 {
		t.Fatalf("Requests() = %d, want the 8 chat requests sent to it", s.Requests())
	}
}
