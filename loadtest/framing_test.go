package loadtest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// feedPieces feeds pieces to a framing as the event loop does: unconsumed
// bytes stay pending and the next piece is appended to them. It returns the
// response's body, the bytes left after it, and the framing.
func feedPieces(pieces [][]byte, closeAtEnd bool) (f *framing, body, rest []byte, err error) {
	f = &framing{}
	var pending []byte
	for i, p := range pieces {
		pending = append(pending, p...)
		n, ferr := f.feed(pending)
		pending = pending[n:]
		if ferr != nil {
			return f, nil, nil, ferr
		}
		if f.done() {
			rest = append([]byte(nil), pending...)
			for _, q := range pieces[i+1:] {
				rest = append(rest, q...)
			}
			return f, bytes.Clone(f.body), rest, nil
		}
	}
	if closeAtEnd {
		if err := f.eof(); err != nil {
			return f, nil, nil, err
		}
		return f, bytes.Clone(f.body), pending, nil
	}
	return f, nil, pending, errors.New("response incomplete")
}

// splits yields the ways a response is cut into reads: whole, in two at
// every byte, and one byte at a time.
func splits(raw []byte) map[string][][]byte {
	out := map[string][][]byte{"whole": {raw}}
	for i := 1; i < len(raw); i++ {
		out["split at "+strconv.Itoa(i)] = [][]byte{raw[:i], raw[i:]}
	}
	var bytewise [][]byte
	for i := range raw {
		bytewise = append(bytewise, raw[i:i+1])
	}
	out["bytewise"] = bytewise
	return out
}

func TestFramingSplitAtEveryByte(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\n" // the start of a following response, left unconsumed
	cases := []struct {
		name       string
		raw        string
		closeAtEnd bool // the body ends with the connection
		status     int
		body       string // kept body (200 only)
		n          int64  // body bytes counted
		close      bool
		rest       string
	}{
		{name: "content-length", raw: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"xyz\"}" + next,
			status: 200, body: `{"a":"xyz"}`, n: 11, rest: next},
		{name: "chunked with extension and trailer", raw: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" +
			"4;ext=1\r\n{\"a\"\r\n7\r\n:\"xyz\"}\r\n0\r\nX-Trailer: t\r\n\r\n" + next,
			status: 200, body: `{"a":"xyz"}`, n: 11, rest: next},
		{name: "chunked, bare LF", raw: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nb\n{\"a\":\"xyz\"}\n0\n\n" + next,
			status: 200, body: `{"a":"xyz"}`, n: 11, rest: next},
		{name: "error status not kept", raw: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy!" + next,
			status: 503, n: 5, close: true, rest: next},
		{name: "interim 100 then answer", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" + next,
			status: 200, body: "{}", n: 2, rest: next},
		{name: "204 has no body", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n" + next,
			status: 204, rest: next},
		{name: "HTTP/1.0 closes", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}" + next,
			status: 200, body: "{}", n: 2, close: true, rest: next},
		{name: "HTTP/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}" + next,
			status: 200, body: "{}", n: 2, rest: next},
		{name: "body until close", raw: "HTTP/1.1 200 OK\r\n\r\n{\"a\":1}", closeAtEnd: true,
			status: 200, body: `{"a":1}`, n: 7, close: true},
	}
	for _, tc := range cases {
		for how, pieces := range splits([]byte(tc.raw)) {
			f, body, rest, err := feedPieces(pieces, tc.closeAtEnd)
			if err != nil {
				t.Fatalf("%s, %s: %v", tc.name, how, err)
			}
			if f.status != tc.status || string(body) != tc.body || f.n != tc.n || f.close != tc.close || string(rest) != tc.rest {
				t.Fatalf("%s, %s: status %d body %q n %d close %v rest %q; want %d %q %d %v %q",
					tc.name, how, f.status, body, f.n, f.close, rest, tc.status, tc.body, tc.n, tc.close, tc.rest)
			}
		}
	}
}

func TestFramingErrors(t *testing.T) {
	cases := []struct {
		name, raw  string
		closeAtEnd bool
		want       error
	}{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", false, errBadFraming},
		{"status not a number", "HTTP/1.1 2x0 OK\r\n\r\n", false, errBadFraming},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, errBadFraming},
		{"chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", false, errBadFraming},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", false, errBadFraming},
		{"unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, errBadFraming},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", false, errBadFraming},
		{"headers without end", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxHeaderBytes) + "\r\n", false, errBadFraming},
		{"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"", true, errEarlyClose},
		{"cut in the headers", "HTTP/1.1 200 OK\r\nContent-Len", true, errEarlyClose},
		{"cut between chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", true, errEarlyClose},
	}
	for _, tc := range cases {
		_, _, _, err := feedPieces([][]byte{[]byte(tc.raw)}, tc.closeAtEnd)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestFramingBodyCap: a 200 body is kept up to maxLine, no further.
func TestFramingBodyCap(t *testing.T) {
	f := &framing{}
	raw := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	if _, err := f.feed(raw); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = f.feed(append([]byte("100000\r\n"), append(chunk, "\r\n"...)...))
	}
	if !errors.Is(err, errLineTooLong) {
		t.Fatalf("a 5 MiB body: error %v, want %v", err, errLineTooLong)
	}
}

// TestFramingReuseAllocatesNothing: reading a response into a reset framing
// whose scratch has grown allocates nothing.
func TestFramingReuseAllocatesNothing(t *testing.T) {
	raw := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n4\r\n{\"a\"\r\n7\r\n:\"xyz\"}\r\n0\r\n\r\n")
	f := &framing{}
	allocs := testing.AllocsPerRun(100, func() {
		f.reset()
		if _, err := f.feed(raw); err != nil || !f.done() {
			t.Fatalf("feed: %v, done %v", err, f.done())
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per response, want 0", allocs)
	}
}
