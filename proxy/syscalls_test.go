package proxy

// Tests of what a request costs in system calls, where a change would show
// only as CPU time in make bench-compare.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// writeCounter counts the writes made to its accepted connections.
type writeCounter struct {
	net.Listener
	writes *atomic.Int32
}

func (l writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countedConn{c, l.writes}, nil
}

type countedConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestWholeStreamWrites: a stream whose body (20 events, larger than the
// SSE reader's first buffer) arrives whole with its Content-Length is
// flushed to the client in one write when passed through, headers included,
// and in three when converted: the events with their closing events, then
// chunked encoding's end, which fasthttp flushes in two writes (the client
// connection merges those: TestLastChunkWaitsForTrailer). Not one write per
// buffer's worth. The writes are counted above that connection wrapper,
// which only wraps TCP connections.
func TestWholeStreamWrites(t *testing.T) {
	var events strings.Builder
	for range 20 {
		events.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}` + "\n\n")
	}
	events.WriteString("data: [DONE]\n\n")
	body := events.String()
	answer := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	up := listen(t)
	t.Cleanup(func() { up.Close() })
	go serveAnswer(up, answer)

	srv, err := New(baseConfig(openaiProvider("up", "http://"+up.Addr().String()+"/v1", "m")), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int32
	ln := listen(t)
	serveOn(t, srv, writeCounter{ln, &writes})
	tests := []struct {
		name, path, req string
		want            func(got string) bool
		writes          int32
	}{
		{"passed through", "/v1/chat/completions", chatBody("m", true),
			func(got string) bool { return got == body }, 1},
		{"converted", "/v1/messages", `{"model":"m","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			func(got string) bool {
				return strings.Count(got, "event: content_block_delta") == 20 && strings.HasSuffix(got, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
			}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			for i := range 3 {
				if _, err := io.WriteString(conn, "POST "+tc.path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+testKey+
					"\r\nContent-Type: application/json\r\nContent-Length: "+itoa(len(tc.req))+"\r\n\r\n"+tc.req); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !tc.want(string(got)) {
					t.Fatalf("stream %d: %d, %q", i, resp.StatusCode, got)
				}
				if n := writes.Swap(0); n != tc.writes {
					t.Fatalf("stream %d (%d bytes) took %d writes, want %d", i, len(got), n, tc.writes)
				}
			}
		})
	}
}

// serveAnswer answers every request on ln's connections with answer.
func serveAnswer(ln net.Listener, answer string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				if _, err := io.WriteString(c, answer); err != nil {
					return
				}
			}
		}()
	}
}
