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
	ep, err := newEndpoint("target", base, "k", 1, timeout, bodies)
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
	tests := []struct{ base, uri, addr string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/chat/completions", "127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/chat/completions", "127.0.0.1:8080"},
		{"http://h:1/v1", "http://h:1/v1/chat/completions", "h:1"},
		{"https://api.example/openai/v1/", "https://api.example/openai/v1/chat/completions", "api.example:443"},
		{"http://h", "http://h/v1/chat/completions", "h:80"},
	}
	for _, tc := range tests {
		ep, err := newEndpoint("t", tc.base, "", 1, time.Second, [2][]byte{})
		if err != nil {
			t.Fatal(err)
		}
		if ep.uri != tc.uri || ep.hc.Addr != tc.addr {
			t.Errorf("%s: uri %s addr %s", tc.base, ep.uri, ep.hc.Addr)
		}
	}
	for _, bad := range []string{"ftp://h/", "127.0.0.1:80", "http://[::1"} {
		if _, err := newEndpoint("t", bad, "", 1, time.Second, [2][]byte{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
