package loadtest

import (
	"net"
	"testing"
	"time"
)

func testEndpoint(t *testing.T, base string, timeout time.Duration) *endpoint {
	t.Helper()
	bodies, err := buildBodies(&Config{Model: "mock-gpt"})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := newEndpoint("target", base, endpointSpec{apiKey: "k", conns: 1, timeout: timeout, bodies: bodies})
	if err != nil {
		t.Fatal(err)
	}
	ep.tl = newTimeline(time.Now(), time.Second, time.Minute)
	return ep
}

func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestWorkerClassifiesOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		base      func(t *testing.T) string
		stream    bool
		timeout   time.Duration
		class     string
		tokens    int64
		truncated bool
	}{
		{"plain ok", func(t *testing.T) string { return startMock(t, &mockServer{opts: mockOpts{Tokens: 5}}) },
			false, time.Second, "", 5, false},
		{"stream ok", func(t *testing.T) string { return startMock(t, &mockServer{opts: mockOpts{Tokens: 6}}) },
			true, time.Second, "", 6, false},
		{"status 503", func(t *testing.T) string { return startMock(t, &mockServer{status: 503}) },
			false, time.Second, "status_503", 0, false},
		{"unknown path", func(t *testing.T) string { return startMock(t, &mockServer{}) + "/prefix" },
			false, time.Second, "status_404", 0, false},
		{"truncated stream", func(t *testing.T) string { return startMock(t, &mockServer{truncate: true}) },
			true, time.Second, classTruncated, 5, true},
		// Without a usage block the content events are the tokens.
		{"stream without usage", func(t *testing.T) string { return startMock(t, &mockServer{opts: mockOpts{Tokens: 7}, noUsage: true}) },
			true, time.Second, "", 7, false},
		{"stalled answer times out", func(t *testing.T) string {
			return startMock(t, &mockServer{opts: mockOpts{Latency: time.Second}})
		}, false, 100 * time.Millisecond, classTimeout, 0, false},
		{"stalled stream times out", func(t *testing.T) string {
			return startMock(t, &mockServer{opts: mockOpts{Tokens: 3, ChunkDelay: time.Second}})
		}, true, 200 * time.Millisecond, classTimeout, 0, true},
		{"connection refused", closedPortURL, false, time.Second, classConnect, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep := testEndpoint(t, tc.base(t), tc.timeout)
			rec := newRecorder(time.Millisecond)
			w := newWorker(ep, rec)
			defer w.release()
			now := time.Now()
			w.do(ep, tc.stream, now, now.Add(tc.timeout))
			s := w.s
			if s.class != tc.class || s.tokens != tc.tokens || s.truncated != tc.truncated {
				t.Errorf("class %q tokens %d truncated %v; want %q %d %v", s.class, s.tokens, s.truncated, tc.class, tc.tokens, tc.truncated)
			}
			if rec.c.Sent != 1 || (tc.class == "") != (rec.c.OK == 1) || (tc.class != "" && rec.c.Errors[tc.class] != 1) {
				t.Errorf("recorded %+v", rec.c)
			}
			if tc.class == "" && (s.bytes == 0 || s.headers <= 0) {
				t.Errorf("ok answer with %d bytes, headers after %v", s.bytes, s.headers)
			}
		})
	}
}

func TestEndpointURL(t *testing.T) {
	tests := []struct{ target, proto, plain, stream, addr string }{
		{"http://127.0.0.1:8080", "chat", "http://127.0.0.1:8080/v1/chat/completions", "", "127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "chat", "http://127.0.0.1:8080/v1/chat/completions", "", "127.0.0.1:8080"},
		{"http://h:1/v1", "chat", "http://h:1/v1/chat/completions", "", "h:1"},
		{"https://api.example/openai/v1/", "chat", "https://api.example/openai/v1/chat/completions", "", "api.example:443"},
		{"http://h", "chat", "http://h/v1/chat/completions", "", "h:80"},
		// A full endpoint URL is used as it is, not extended a second time.
		{"http://h:1/v1/chat/completions", "chat", "http://h:1/v1/chat/completions", "", "h:1"},
		{"http://h:1/p/v1/responses", "responses", "http://h:1/p/v1/responses", "", "h:1"},
		{"http://h:1/v1", "anthropic", "http://h:1/v1/messages", "", "h:1"},
		{"http://h:1/v1beta", "gemini", "http://h:1/v1beta/models/mock-gpt:generateContent",
			"http://h:1/v1beta/models/mock-gpt:streamGenerateContent?alt=sse", "h:1"},
		{"http://h:1/v1beta/models/gem-x:streamGenerateContent", "gemini", "http://h:1/v1beta/models/gem-x:generateContent",
			"http://h:1/v1beta/models/gem-x:streamGenerateContent?alt=sse", "h:1"},
	}
	for _, tc := range tests {
		ep, err := newEndpoint("t", tc.target, endpointSpec{proto: protocols[tc.proto], model: "mock-gpt", conns: 1, timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stream := tc.stream
		if stream == "" {
			stream = tc.plain
		}
		if ep.uriPlain != tc.plain || ep.uriStream != stream || ep.hc.Addr != tc.addr {
			t.Errorf("%s: uri %s / %s addr %s", tc.target, ep.uriPlain, ep.uriStream, ep.hc.Addr)
		}
	}
	for _, bad := range []string{"ftp://h/", "127.0.0.1:80", "http://[::1", "http://h/v1/messages"} {
		if _, err := newEndpoint("t", bad, endpointSpec{proto: protocols["chat"], conns: 1, timeout: time.Second}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProtocolFromTarget(t *testing.T) {
	tests := []struct{ flag, target, want string }{
		{"", "", "chat"},
		{"", "http://h/v1/messages", "anthropic"},
		{"", "http://h/v1beta/models/g:generateContent", "gemini"},
		{"responses", "http://h", "responses"},
		{"chat", "http://h/v1/messages", ""},
		{"grpc", "", ""},
	}
	for _, tc := range tests {
		p, err := protocolFor(tc.flag, tc.target)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s %s accepted", tc.flag, tc.target)
			}
			continue
		}
		if err != nil || p.name != tc.want {
			t.Errorf("%s %s: %v %v, want %s", tc.flag, tc.target, p, err, tc.want)
		}
	}
}
