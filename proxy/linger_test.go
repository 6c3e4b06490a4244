package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestRefusedBodyAnswered: a request refused on its headers (a revoked
// virtual key, a wrong key, no key) whose large body is still on its way
// gets its 401, never a connection reset, both from a client that reads
// while it writes (Go's transport) and from one that writes the whole body
// first; and fasthttp's "body size exceeds the given limit" is not logged
// as a fault (the access line says what happened).
func TestRefusedBodyAnswered(t *testing.T) {
	cfg := tenantConfig(filepath.Join(t.TempDir(), "p.db"))
	core, logs := observer.New(zap.InfoLevel)
	srv, err := New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	})
	addr := ln.Addr().String()
	revoked, kv, err := srv.Tenants().Create(context.Background(), tenants.Key{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Tenants().Revoke(context.Background(), kv.ID); err != nil {
		t.Fatal(err)
	}
	body := `{"model":"mock-gpt","messages":[{"role":"user","content":"` + strings.Repeat("a", 4<<20) + `"}]}`
	c := httpClient(t)
	for _, tc := range []struct{ name, key, want string }{
		{"revoked virtual key", revoked, "invalid API key"},
		{"wrong key", "sk-wrong", "invalid API key"},
		{"no key", "", "missing API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 5 {
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
				if tc.key != "" {
					req.Header.Set("Authorization", "Bearer "+tc.key)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v (the answer was lost)", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 401 || !strings.Contains(string(b), tc.want) {
					t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
				}
			}
			// A client that sends its whole body before it reads.
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			head := "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
			if tc.key != "" {
				head += "x-api-key: " + tc.key + "\r\n"
			}
			if _, err := io.WriteString(conn, head+"\r\n"+body); err != nil {
				t.Fatalf("writing the body: %v (the proxy reset the connection)", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 401 || !strings.Contains(string(b), `"authentication_error"`) || !resp.Close {
				t.Fatalf("%d close=%v %s", resp.StatusCode, resp.Close, b)
			}
		})
	}
	for _, e := range logs.All() {
		if e.Message == "fasthttp" {
			t.Errorf("logged as a fault: %v", e.ContextMap())
		}
	}
}

// TestLingerBounded: a refused client that keeps its connection open and
// sends nothing more is closed after lingerTime, and Shutdown ends every
// drain at once.
func TestLingerBounded(t *testing.T) {
	srv, base := startProxy(t, baseConfig(mockProvider("a", 5, "mock-gpt")))
	addr := strings.TrimPrefix(base, "http://")
	open := func() (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_, _ = io.WriteString(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{")
		rd := bufio.NewReader(conn)
		resp, err := http.ReadResponse(rd, nil)
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("%v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return conn, rd
	}
	conn, rd := open()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(3 * lingerTime))
	if _, err := rd.ReadByte(); err != io.EOF {
		t.Fatalf("after the answer: %v, want EOF (write side shut)", err)
	}
	// The read side is drained until lingerTime, then the socket closes:
	// a write then fails.
	if !closedWithin(conn, 3*lingerTime) {
		t.Fatal("the refused connection was never closed")
	}
	if took := time.Since(start); took < lingerTime/2 {
		t.Fatalf("closed after %v, before lingering", took)
	}
	conn, _ = open()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start = time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(conn, lingerTime/2) {
		t.Fatalf("a lingering connection outlived Shutdown (%v)", time.Since(start))
	}
}

// closedWithin reports whether writes to conn start failing (the proxy
// closed its end) within d.
func closedWithin(conn net.Conn, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := conn.Write([]byte("aaaaaaaa")); err != nil {
			return true
		}
	}
	return false
}

// TestLastChunkWaitsForTrailer: the "0\r\n" fasthttp flushes alone at the
// end of a chunked body is held (nothing reaches the peer) and goes out
// with the next write, in front of it; a WebSocket's connection writes
// such bytes at once.
func TestLastChunkWaitsForTrailer(t *testing.T) {
	tests := []struct {
		name  string
		raw   bool
		next  string
		held  bool
		wantN int
	}{
		{"trailer CRLF", false, "\r\n", true, 2},
		{"trailer fields", false, strings.Repeat("X-Trailer: v\r\n", 4) + "\r\n", true, 58},
		{"websocket", true, "\r\n", false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tcp, client := tcpPair(t)
			c := &lingerConn{TCPConn: tcp, l: newLingerer(), first: newFirstReader(tcp), raw: tc.raw}
			if n, err := c.Write([]byte("0\r\n")); n != 3 || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
			want := tc.next
			if tc.held {
				if got := pending(t, client); !c.lastChunk || got != 0 {
					t.Fatalf("last chunk held: %v, %d bytes reached the peer", c.lastChunk, got)
				}
				want = "0\r\n" + tc.next
			} else if got := readN(t, client, 3); got != "0\r\n" {
				t.Fatalf("peer read %q, want the last chunk at once", got)
			}
			if n, err := c.Write([]byte(tc.next)); n != tc.wantN || err != nil {
				t.Fatalf("Write = %d, %v; want %d", n, err, tc.wantN)
			}
			if got := readN(t, client, len(want)); got != want {
				t.Fatalf("peer read %q, want %q", got, want)
			}
		})
	}
}

// readN reads n bytes from conn.
func readN(t *testing.T, conn net.Conn, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(conn, b); err != nil {
		t.Fatalf("read %q: %v", b, err)
	}
	return string(b)
}

// pending is how many bytes wait in conn's receive queue, read without
// consuming or waiting.
func pending(t *testing.T, conn net.Conn) int {
	t.Helper()
	rc, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var buf [64]byte
	if err := rc.Control(func(fd uintptr) {
		m, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == nil {
			n = m
		}
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
