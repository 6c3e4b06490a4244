package loadtest

import (
	"net"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fasthttp"
)

// startRealMock serves the project's mock upstream, which answers every
// protocol the way the real APIs do, on a loopback port.
func startRealMock(t *testing.T, b mock.Behaviour) string {
	t.Helper()
	return startRealMockWith(t, mock.ServerOptions{Behaviour: b})
}

// startRealMockWith is startRealMock with every option of the mock.
func startRealMockWith(t *testing.T, o mock.ServerOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: mock.NewServer(o).Handler(), CloseOnShutdown: true}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestProtocolsAgainstMock sends a plain and a streamed request in each
// protocol to the mock upstream: each must be a success with the mock's
// token count, TTFT and chunks; a stream cut before its end is truncated.
func TestProtocolsAgainstMock(t *testing.T) {
	base := startRealMock(t, mock.Behaviour{Tokens: 6})
	cut := startRealMock(t, mock.Behaviour{Tokens: 6, TruncateAfter: 3})
	for name, p := range protocols {
		t.Run(name, func(t *testing.T) {
			bodies, err := buildBodies(&Config{Model: "mock-gpt", Protocol: name})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				url       string
				stream    bool
				class     string
				truncated bool
			}{{base, false, "", false}, {base, true, "", false}, {cut, true, classTruncated, true}} {
				ep, err := newEndpoint("target", tc.url, endpointSpec{proto: p, model: "mock-gpt", apiKey: "k", conns: 1,
					timeout: 5 * time.Second, bodies: bodies})
				if err != nil {
					t.Fatal(err)
				}
				ep.tl = newTimeline(time.Now(), time.Second, time.Minute)
				w := newWorker(ep, newRecorder(time.Millisecond))
				now := time.Now()
				w.do(ep, tc.stream, now, now.Add(5*time.Second))
				s := w.s
				w.release()
				ep.hc.CloseIdleConnections()
				if s.class != tc.class || s.truncated != tc.truncated {
					t.Errorf("stream %v: class %q truncated %v, want %q %v", tc.stream, s.class, s.truncated, tc.class, tc.truncated)
					continue
				}
				if tc.class != "" {
					continue
				}
				if s.tokens != 6 || s.tokensFromChunks {
					t.Errorf("stream %v: %d tokens (from chunks %v), want the 6 of the usage block", tc.stream, s.tokens, s.tokensFromChunks)
				}
				if tc.stream && (s.ttft <= 0 || s.chunks < 6 || s.tpot <= 0) {
					t.Errorf("stream: ttft %v chunks %d tpot %v", s.ttft, s.chunks, s.tpot)
				}
			}
		})
	}
}
