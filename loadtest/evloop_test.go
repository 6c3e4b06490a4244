package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is a loopback HTTP/1.1 server written on bare sockets, so the
// tests choose the framing of every answer byte by byte: chunked or not,
// written in pieces, connections closed with or without saying so. It
// counts what it answered: the ground truth the client's counters must
// match.
type rawServer struct {
	// answer writes the answer to request n (1-based) on w and reports
	// whether to close the connection afterwards.
	answer func(n int64, w *bufio.Writer) (closeAfter bool)
	// stall, when it returns true for n, leaves request n unanswered until
	// the client gives up on the connection.
	stall func(n int64) bool
	n     atomic.Int64 // requests read
	ln    net.Listener
	wg    sync.WaitGroup
}

func startRaw(t *testing.T, s *rawServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		n := s.n.Add(1)
		if s.stall != nil && s.stall(n) {
			_, _ = io.Copy(io.Discard, c) // until the client closes
			return
		}
		closeAfter := s.answer(n, bw)
		if bw.Flush() != nil || closeAfter {
			return
		}
	}
}

const chatAnswer = `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`

func writeLength(w *bufio.Writer, status int, extra, body string) {
	w.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\nContent-Type: application/json\r\n" + extra +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// writeChunked sends body in chunks of size bytes; with a pause, each
// piece of the answer goes out on its own and the client reads it split
// mid-line, mid-chunk and mid-header.
func writeChunked(w *bufio.Writer, body string, size int, pause time.Duration) {
	piece := func(s string) {
		w.WriteString(s)
		if pause > 0 {
			_ = w.Flush()
			time.Sleep(pause) // pacing the fixture's writes, not an assertion
		}
	}
	piece("HTTP/1.1 200 OK\r\nContent-Type: appl")
	piece("ication/json\r\nTransfer-Encoding: chunked\r")
	piece("\n\r\n")
	for len(body) > 0 {
		k := min(size, len(body))
		piece(strconv.FormatInt(int64(k), 16))
		piece("\r\n" + body[:k] + "\r")
		piece("\n")
		body = body[k:]
	}
	piece("0\r\n\r")
	w.WriteString("\n")
}

func needEvents(t *testing.T) {
	t.Helper()
	if !evSupported {
		t.Skip("the event-loop client runs on Linux only")
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestEventClientMatchesServerCounts runs the event loop against a server
// that mixes every framing: Content-Length and chunked answers, some
// written in pieces with pauses (split reads), errors, invalid bodies, and
// connections it closes after an answer, with "Connection: close" or
// silently (the next request then meets a closed connection and is sent
// again on a new one). The client's counters must equal what the server
// answered, and no socket may be left open.
func TestEventClientMatchesServerCounts(t *testing.T) {
	needEvents(t)
	var ok, s503, invalid atomic.Int64
	s := &rawServer{answer: func(n int64, w *bufio.Writer) bool {
		switch {
		case n%10 == 0:
			s503.Add(1)
			writeLength(w, 503, "", `{"error":{"message":"busy"}}`)
			return false
		case n%17 == 0:
			invalid.Add(1)
			writeLength(w, 200, "", `{"truncated":`)
			return false
		case n%13 == 0:
			ok.Add(1)
			writeLength(w, 200, "Connection: close\r\n", chatAnswer)
			return true
		case n%11 == 0:
			ok.Add(1)
			writeLength(w, 200, "", chatAnswer)
			return true // closes without saying so
		case n%7 == 0:
			// A chunked answer in pieces with pauses: the client reads it
			// over many reads.
			ok.Add(1)
			writeChunked(w, chatAnswer, 9, 50*time.Microsecond)
			return false
		case n%3 == 0:
			ok.Add(1)
			writeChunked(w, chatAnswer, len(chatAnswer), 0)
			return false
		}
		ok.Add(1)
		writeLength(w, 200, "", chatAnswer)
		return false
	}}
	url := startRaw(t, s)
	fds := openFDs(t)
	rep := runTarget(t, url, "--users", "8", "--requests", "150", "--no-pace", "--stream", "0", "-d", "30s",
		"--ramp", "0", "--max-error-rate", "-1", "--client", "epoll")
	e := rep.Endpoints[0]
	if rep.Generator.Client != clientEpoll {
		t.Fatalf("generator client %q, want epoll", rep.Generator.Client)
	}
	c := e.Counters
	t.Logf("server: read %d, ok %d, 503 %d, invalid %d; client: %+v", s.n.Load(), ok.Load(), s503.Load(), invalid.Load(), c)
	if c.Sent != 1200 || s.n.Load() != 1200 {
		t.Errorf("client sent %d, server read %d, want 1200 each", c.Sent, s.n.Load())
	}
	if c.OK != ok.Load() || c.Errors["status_503"] != s503.Load() || c.Errors[classInvalidBody] != invalid.Load() {
		t.Errorf("client ok %d, 503 %d, invalid %d; server %d, %d, %d", c.OK, c.Errors["status_503"], c.Errors[classInvalidBody],
			ok.Load(), s503.Load(), invalid.Load())
	}
	if c.ErrorTotal() != s503.Load()+invalid.Load() {
		t.Errorf("errors %v, want only the server's 503s and invalid bodies", c.Errors)
	}
	if c.OutputTokens != 5*ok.Load() {
		t.Errorf("output tokens %d, want %d", c.OutputTokens, 5*ok.Load())
	}
	if e.Plain.Latency.Count != c.OK {
		t.Errorf("plain latency histogram holds %d, want the %d ok answers", e.Plain.Latency.Count, c.OK)
	}
	if after := openFDs(t); after > fds {
		t.Errorf("%d file descriptors open after the run, %d before", after, fds)
	}
}

// TestEventClientMatchesFasthttp runs one load through both clients: the
// counters they report (requests, bytes, tokens, errors) are the same.
func TestEventClientMatchesFasthttp(t *testing.T) {
	needEvents(t)
	s := &rawServer{answer: func(n int64, w *bufio.Writer) bool {
		if n%5 == 0 {
			writeLength(w, 429, "", `{"error":{"message":"slow down"}}`)
			return false
		}
		writeChunked(w, chatAnswer, 40, 0)
		return false
	}}
	url := startRaw(t, s)
	var got [2]Counters
	for i, client := range []string{clientEpoll, clientFasthttp} {
		s.n.Store(0)
		rep := runTarget(t, url, "--users", "4", "--requests", "100", "--no-pace", "--stream", "0", "-d", "30s",
			"--ramp", "0", "--max-error-rate", "-1", "--client", client)
		if rep.Generator.Client != client {
			t.Fatalf("--client %s ran %q", client, rep.Generator.Client)
		}
		got[i] = rep.Endpoints[0].Counters
	}
	a, b := got[0], got[1]
	if a.Sent != b.Sent || a.OK != b.OK || a.Bytes != b.Bytes || a.OutputTokens != b.OutputTokens ||
		a.Errors["status_429"] != b.Errors["status_429"] || a.ErrorTotal() != b.ErrorTotal() {
		t.Errorf("epoll %+v\nfasthttp %+v", a, b)
	}
}

// TestEventClientTimeoutReconnects: a request the server never answers is
// a timeout; its connection is dropped and the user goes on over a new one.
func TestEventClientTimeoutReconnects(t *testing.T) {
	needEvents(t)
	s := &rawServer{
		answer: func(n int64, w *bufio.Writer) bool { writeLength(w, 200, "", chatAnswer); return false },
		stall:  func(n int64) bool { return n == 5 },
	}
	url := startRaw(t, s)
	start := time.Now()
	rep := runTarget(t, url, "--users", "1", "--requests", "20", "--no-pace", "--stream", "0", "-d", "10s",
		"--ramp", "0", "--timeout", "300ms", "--max-error-rate", "-1", "--client", "epoll")
	c := rep.Endpoints[0].Counters
	if c.Sent != 20 || c.OK != 19 || c.Errors[classTimeout] != 1 {
		t.Errorf("sent %d ok %d errors %v, want 20, 19 and one timeout", c.Sent, c.OK, c.Errors)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %v", d)
	}
}

// TestEventClientConnectRefused: with nothing listening every request is a
// connect error, and the run still ends by itself.
func TestEventClientConnectRefused(t *testing.T) {
	needEvents(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rep := runTarget(t, "http://"+addr, "--users", "3", "--requests", "40", "--no-pace", "--stream", "0", "-d", "10s",
		"--ramp", "0", "--max-error-rate", "-1", "--client", "epoll")
	c := rep.Endpoints[0].Counters
	if c.Sent != 120 || c.Errors[classConnect] != 120 {
		t.Errorf("sent %d errors %v, want 120 connect errors", c.Sent, c.Errors)
	}
}

// TestEventClientCapAndGrace: no request starts after the duration cap,
// and requests still running when the grace ends are cut (counted apart).
func TestEventClientCapAndGrace(t *testing.T) {
	needEvents(t)
	s := &rawServer{answer: func(n int64, w *bufio.Writer) bool {
		time.Sleep(300 * time.Millisecond) // a slow target, not an assertion
		writeLength(w, 200, "", chatAnswer)
		return false
	}}
	url := startRaw(t, s)
	start := time.Now()
	rep := runTarget(t, url, "--users", "2", "--requests", "100", "--no-pace", "--stream", "0", "-d", "1s",
		"--ramp", "0", "--grace", "100ms", "--max-error-rate", "-1", "--client", "epoll")
	took := time.Since(start)
	c := rep.Endpoints[0].Counters
	// Each user sends at 0, 0.3, 0.6 and 0.9 s; the last pair is due back
	// at 1.2 s, after the 1.1 s grace.
	if c.CutAtCap != 2 || c.Sent != 6 || c.OK != 6 || c.ErrorTotal() != 0 {
		t.Errorf("cut %d sent %d ok %d errors %v, want 2 cut and 6 ok", c.CutAtCap, c.Sent, c.OK, c.Errors)
	}
	if took > 2*time.Second {
		t.Errorf("run took %v for a 1 s cap and 100 ms grace", took)
	}
	if n := s.n.Load(); n != 8 {
		t.Errorf("server read %d requests, want 8", n)
	}
}

// TestEventClientChosen: auto picks the event loop only for closed-loop,
// unpaced, plain runs without TLS; epoll refuses the others.
func TestEventClientChosen(t *testing.T) {
	needEvents(t)
	base := []string{"--target", "http://127.0.0.1:1", "--users", "2", "--requests", "2", "-d", "1s", "--ramp", "0"}
	cases := []struct {
		args []string
		why  string
	}{
		{[]string{"--no-pace", "--stream", "0"}, ""},
		{[]string{"--stream", "0"}, "paced"},
		{[]string{"--no-pace", "--stream", "0.5"}, "streamed"},
		{[]string{"--no-pace", "--stream", "0", "--rate", "10"}, "open loop"},
	}
	for _, tc := range cases {
		cfg, err := parseConfig(append(append([]string{}, base...), tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if why := evReason(cfg); (tc.why == "") != (why == "") || (tc.why != "" && !strings.Contains(why, tc.why)) {
			t.Errorf("%v: reason %q, want %q", tc.args, why, tc.why)
		}
		_, err = parseConfig(append(append(append([]string{}, base...), tc.args...), "--client", "epoll"), io.Discard)
		if (err == nil) != (tc.why == "") {
			t.Errorf("%v --client epoll: error %v", tc.args, err)
		}
	}
	cfg, err := parseConfig([]string{"--target", "https://127.0.0.1:1", "--no-pace", "--stream", "0", "-d", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if evReason(cfg) != "TLS" {
		t.Errorf("https target: reason %q, want TLS", evReason(cfg))
	}
}

// TestEventClientAllocatesNothingPerRequest: a run of twice the requests
// allocates no more than a run of the requests (setup aside), against a
// server that itself allocates nothing per request.
func TestEventClientAllocatesNothingPerRequest(t *testing.T) {
	needEvents(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	cfg, err := parseConfig([]string{"--target", url, "--users", "2", "--requests", "1", "--no-pace", "--stream", "0",
		"-d", "30s", "--ramp", "0", "--max-error-rate", "-1", "--client", "epoll"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := newEndpoint("target", url, endpointSpec{proto: protocols["chat"], model: cfg.Model, conns: 2, timeout: cfg.Timeout,
		bodies: [2][]byte{[]byte(`{"model":"m","messages":[]}`), nil}})
	if err != nil {
		t.Fatal(err)
	}
	ep.recs = []*recorder{newRecorder(time.Millisecond)}
	ep.tl = newTimeline(time.Now(), time.Second, time.Minute)
	// The server reads requests of the one pre-built length.
	var wire bytes.Buffer
	req := buildRequest(ep, ep.uriPlain, ep.bodyPlain)
	req.Header.SetUserAgent(ep.hc.Name)
	if _, err := req.WriteTo(&wire); err != nil {
		t.Fatal(err)
	}
	reqLen := wire.Len()
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(chatAnswer)) + "\r\n\r\n" + chatAnswer)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, reqLen)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	run := func(perUser int) float64 {
		return testing.AllocsPerRun(1, func() {
			start := time.Now()
			_, err := runEvClient(ep, evPlan{users: 2, loops: 1, perUser: perUser, start: start, end: start.Add(time.Minute),
				warmEnd: start, cutAt: start.Add(2 * time.Minute), timeout: 10 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	run(100) // warm the recorder's reservoir and the runtime
	small, large := run(1000), run(3000)
	t.Logf("allocations: %v for 2x1000 requests, %v for 2x3000", small, large)
	if per := (large - small) / 4000; per > 0.05 {
		t.Errorf("%.3f allocations per request (%v for 2x1000 requests, %v for 2x3000)", per, small, large)
	}
	if c := ep.recs[0].c; c.ErrorTotal() != 0 {
		t.Errorf("errors %v", c.Errors)
	}
}

// TestEventClientCancelAndLocalhost: a target named localhost is reached
// over IPv4 (where the server listens), and cancelling the run ends it
// with every request answered.
func TestEventClientCancelAndLocalhost(t *testing.T) {
	needEvents(t)
	s := &rawServer{answer: func(n int64, w *bufio.Writer) bool { writeLength(w, 200, "", chatAnswer); return false }}
	url := strings.Replace(startRaw(t, s), "127.0.0.1", "localhost", 1)
	cfg, err := parseConfig([]string{"--target", url, "--users", "2", "--requests", "1000000", "--no-pace", "--stream", "0",
		"-d", "30s", "--ramp", "0", "--max-error-rate", "-1", "--client", "epoll"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := execute(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c := rep.Endpoints[0].Counters
	if c.Sent == 0 || c.OK != c.Sent || c.Sent != s.n.Load() {
		t.Errorf("sent %d ok %d errors %v, server read %d", c.Sent, c.OK, c.Errors, s.n.Load())
	}
	if took > 3*time.Second {
		t.Errorf("a run cancelled after 300 ms took %v", took)
	}
}

// TestEventClientUnresolvable: a target name that does not resolve fails
// each request with the class the fasthttp client gives it, and the run
// still reports.
func TestEventClientUnresolvable(t *testing.T) {
	needEvents(t)
	var got [2]Counters
	for i, client := range []string{clientEpoll, clientFasthttp} {
		rep := runTarget(t, "http://no-such-host.invalid:80", "--users", "2", "--requests", "5", "--no-pace", "--stream", "0",
			"-d", "10s", "--ramp", "0", "--max-error-rate", "-1", "--client", client)
		got[i] = rep.Endpoints[0].Counters
	}
	a, b := got[0], got[1]
	if a.Sent != 10 || a.Sent != b.Sent || a.ErrorTotal() != 10 || len(a.Errors) != 1 || a.Errors[classOther] != b.Errors[classOther] {
		t.Errorf("epoll %+v\nfasthttp %+v", a, b)
	}
}
