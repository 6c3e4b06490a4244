package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/faults"
)

// TestHostileClients: oversized headers, headers dribbled byte by byte
// (slowloris) and a body that never completes are answered or cut by the
// server within its read timeout, before any handler runs, so none of them
// ever reaches (or holds) an upstream connection.
func TestHostileClients(t *testing.T) {
	tests := []struct {
		name string
		// send writes the client's side; it returns when done or cut.
		send   func(c net.Conn)
		status int // the answer expected, in the API's error shape
	}{
		{name: "oversized-headers", status: http.StatusRequestHeaderFieldsTooLarge, send: func(c net.Conn) {
			_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Big: "+strings.Repeat("a", 8<<10)+"\r\n\r\n")
		}},
		{name: "slowloris-headers", status: http.StatusRequestTimeout, send: func(c net.Conn) {
			for _, b := range []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1234567890") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}},
		{name: "body-never-completes", status: http.StatusRequestTimeout, send: func(c net.Conn) {
			_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "+testKey+
				"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":")
			for range 100 {
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			a := startFaults(t, faults.Script{})
			cfg := baseConfig(faultProvider("a", a.URL(), 1))
			cfg.Server.ReadTimeout = 300 * time.Millisecond
			cfg.Server.MaxHeaderBytes = 4096
			srv, base := startFaultProxy(t, cfg)
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			go tc.send(c)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), `"error"`) {
				t.Fatalf("answer %d %s, want %d with an API error", resp.StatusCode, b, tc.status)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("the server held the client %v", d)
			}
			if a.Requests() != 0 {
				t.Fatalf("a hostile client reached the upstream %d times", a.Requests())
			}
			_ = c.Close()
			waitIdle(t, srv, httpClient(t))
		})
	}
}
