package loadtest

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"
)

// startCanned serves one fixed pre-built HTTP response to every request on
// every connection, reading requests with ReadSlice so it allocates almost
// nothing: benchmarks then measure the generator, not the server.
func startCanned(tb testing.TB, response []byte) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveCanned(c, response)
		}
	}()
	return "http://" + ln.Addr().String()
}

var contentLength = []byte("content-length:")

func serveCanned(c net.Conn, response []byte) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	for {
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
			}
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		if _, err := c.Write(response); err != nil {
			return
		}
	}
}

// cannedPlain is a complete non-streamed answer with usage.
func cannedPlain() []byte {
	body := `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":20,"total_tokens":23}}`
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// cannedStream is a chunked SSE answer of n content chunks, one HTTP chunk
// per event as a relaying proxy would send it.
func cannedStream(n int) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	event := func(s string) {
		b.WriteString(strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n")
	}
	for i := 0; i < n; i++ {
		event(chunkLine("tok"))
	}
	event(usageLine)
	event("data: [DONE]\n\n")
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func TestCannedServerSpeaksHTTP(t *testing.T) {
	for _, tc := range []struct {
		stream bool
		resp   []byte
		tokens int64
	}{{false, cannedPlain(), 20}, {true, cannedStream(5), 7}} {
		ep := testEndpoint(t, startCanned(t, tc.resp), 0)
		w := newWorker(ep, newRecorder(0))
		for i := 0; i < 3; i++ {
			now := time.Now()
			w.do(ep, tc.stream, now, now.Add(5*time.Second))
			if w.s.class != "" || w.s.tokens != tc.tokens {
				t.Fatalf("stream=%v: class %q tokens %d", tc.stream, w.s.class, w.s.tokens)
			}
		}
		w.release()
		ep.hc.CloseIdleConnections()
	}
}

// TestWorkerAllocs guards the generator's per-request allocations: none for
// a plain answer; a stream pays only fasthttp's body-stream closures.
func TestWorkerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, tc := range []struct {
		stream bool
		resp   []byte
		max    float64
	}{{false, cannedPlain(), 0}, {true, cannedStream(20), 6}} {
		ep := testEndpoint(t, startCanned(t, tc.resp), 0)
		w := newWorker(ep, newRecorder(0))
		allocs := testing.AllocsPerRun(200, func() {
			now := time.Now()
			w.do(ep, tc.stream, now, now.Add(5*time.Second))
		})
		if w.s.class != "" || allocs > tc.max {
			t.Errorf("stream=%v: %.1f allocs per request (max %v), class %q", tc.stream, allocs, tc.max, w.s.class)
		}
		w.release()
		ep.hc.CloseIdleConnections()
	}
}
