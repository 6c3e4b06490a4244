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

// TestWholeStreamOneWrite: a passed-through stream whose body (20 events,
// larger than the SSE reader's first buffer) arrives whole with its
// Content-Length reaches the client in one write, headers included — not
// one write per buffer's worth.
func TestWholeStreamOneWrite(t *testing.T) {
	var events strings.Builder
	for range 20 {
		events.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}` + "\n\n")
	}
	events.WriteString("data: [DONE]\n\n")
	body := events.String()
	answer := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	up := listen(t)
	t.Cleanup(func() { up.Close() })
	go func() {
		for {
			c, err := up.Accept()
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
	}()

	srv, err := New(baseConfig(openaiProvider("up", "http://"+up.Addr().String()+"/v1", "m")), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int32
	ln := listen(t)
	serveOn(t, srv, writeCounter{ln, &writes})
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	for i := range 3 {
		req := chatBody("m", true)
		if _, err := io.WriteString(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+testKey+
			"\r\nContent-Type: application/json\r\nContent-Length: "+itoa(len(req))+"\r\n\r\n"+req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("stream %d: %d, %d bytes of %d", i, resp.StatusCode, len(got), len(body))
		}
		if n := writes.Swap(0); n != 1 {
			t.Fatalf("stream %d (%d bytes) took %d writes, want 1", i, len(body), n)
		}
	}
}
