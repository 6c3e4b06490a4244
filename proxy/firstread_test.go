package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP connections: the server's
// side, which a firstReader reads, and the client's.
func tcpPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln := listen(t)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { s.Close(); client.Close() })
	return s.(*net.TCPConn), client
}

// TestFirstReaderReads: whatever the sizes of the reads and the writes,
// the bytes come out whole and in order, the pooled buffer is given back
// once drained, and the end of the stream is io.EOF.
func TestFirstReaderReads(t *testing.T) {
	payload := make([]byte, 3*firstReadBuffer+123)
	for i := range payload {
		payload[i] = byte(i*7 + i/251)
	}
	for _, tc := range []struct {
		name  string
		reads []int // read sizes, cycled
		write int   // the client writes in pieces of this size
	}{
		{"one byte then bufio-sized", []int{1, 4095}, len(payload)},
		{"one byte then bufio-sized, trickled", []int{1, 4095}, 700},
		{"always one byte", []int{1}, 1000},
		{"small reads", []int{1, 7, 64, 3}, 333},
		{"large reads only", []int{8192}, 5000},
		{"mixed", []int{1, 65, 1, 10000, 2}, 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := tcpPair(t)
			r := newFirstReader(s)
			go func() {
				for b := payload; len(b) > 0; {
					n := min(tc.write, len(b))
					if _, err := c.Write(b[:n]); err != nil {
						return
					}
					b = b[n:]
				}
				c.Close()
			}()
			var got []byte
			for i := 0; ; i++ {
				p := make([]byte, tc.reads[i%len(tc.reads)])
				n, err := r.Read(p)
				got = append(got, p[:n]...)
				if r.held != nil && r.off == r.n {
					t.Fatal("an empty buffer is still held")
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("read %d bytes, differing from the %d written", len(got), len(payload))
			}
			if r.held != nil {
				t.Fatal("a buffer is held after EOF")
			}
		})
	}
}

// TestFirstReaderErrors: deadlines and resets keep net's error values, so
// fasthttp tells an idle timeout from a broken connection as before.
func TestFirstReaderErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		s, _ := tcpPair(t)
		r := newFirstReader(s)
		_ = s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := r.Read(make([]byte, 1))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v, want a timeout", err)
		}
		if r.held != nil {
			t.Fatal("a buffer is held by a read that got nothing")
		}
	})
	t.Run("reset", func(t *testing.T) {
		s, c := tcpPair(t)
		r := newFirstReader(s)
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		_, err := r.Read(make([]byte, 1))
		if err == nil || err == io.EOF {
			t.Fatalf("got %v, want a connection reset", err)
		}
		if r.errno != nil || r.held != nil {
			t.Fatal("state left behind by a failed read")
		}
	})
	t.Run("closed", func(t *testing.T) {
		s, _ := tcpPair(t)
		r := newFirstReader(s)
		s.Close()
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("got %v, want net.ErrClosed", err)
		}
	})
}

// TestFirstReaderAllocs: a small read and the read of the rest allocate
// nothing (the pooled buffer comes back).
func TestFirstReaderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s, c := tcpPair(t)
	r := newFirstReader(s)
	msg := []byte(strings.Repeat("x", 300))
	one, rest := make([]byte, 1), make([]byte, 4095)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := 0
		for got < len(msg) {
			p := rest
			if got == 0 {
				p = one
			}
			n, err := r.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per request read, want 0", allocs)
	}
}

// TestServerReadsRequestsWhole: through the server, pipelined requests,
// a request trickled a few bytes at a time and one larger than the pooled
// buffer are all answered, in order, on one keep-alive connection.
func TestServerReadsRequestsWhole(t *testing.T) {
	_, base := startProxy(t, baseConfig(mockProvider("mock", 3, "mock-gpt")))
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	request := func(body string) string {
		return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + testKey +
			"\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	}
	small := request(chatBody("mock-gpt", false))
	large := request(`{"model":"mock-gpt","messages":[{"role":"user","content":"` + strings.Repeat("b", 3*firstReadBuffer) + `"}]}`)
	br := bufio.NewReader(conn)
	expect := func(n int) {
		t.Helper()
		for i := range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"chat.completion"`)) {
				t.Fatalf("answer %d: %d %s", i, resp.StatusCode, b)
			}
		}
	}
	// Three pipelined in one write, the large one between.
	if _, err := io.WriteString(conn, small+large+small); err != nil {
		t.Fatal(err)
	}
	expect(3)
	// One trickled: a byte, then pieces, with pauses between.
	trickle := small + large
	if _, err := io.WriteString(conn, trickle[:1]); err != nil {
		t.Fatal(err)
	}
	for b := trickle[1:]; len(b) > 0; {
		time.Sleep(time.Millisecond)
		n := min(1000, len(b))
		if _, err := io.WriteString(conn, b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	expect(2)
}
