package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// framing reads the framing of one HTTP/1.1 response incrementally, for the
// event-loop client: status line and headers, then a body delimited by
// Content-Length, by chunked transfer coding or by the connection's close.
// It is fed whatever bytes have arrived, in pieces of any size, and consumes
// only what it can act on, so a split anywhere (even inside "\r\n") just
// waits for the next read. The body of a 200 answer is kept (dechunked) for
// the JSON check; other bodies are only counted.
type framing struct {
	phase   framePhase
	status  int
	remain  int64 // body or chunk bytes still to come
	close   bool  // the server closes the connection after this response
	keep    bool  // keep the body (a 200 answer)
	body    []byte
	scratch []byte // reused storage for body when it spans reads
	n       int64  // body bytes seen (dechunked), the sample's bytes
}

type framePhase uint8

const (
	phHeaders    framePhase = iota
	phLength                // Content-Length body
	phChunkSize             // a chunk's size line
	phChunkData             // a chunk's data
	phChunkCRLF             // the CRLF after a chunk's data
	phTrailer               // trailer lines after the last chunk
	phUntilClose            // a body that ends when the connection does
	phDone
)

// maxHeaderBytes bounds the status line and headers of one response.
const maxHeaderBytes = 64 << 10

var (
	errBadFraming = errors.New("malformed HTTP response")
	errEarlyClose = errors.New("connection closed before the response ended")
)

// reset readies f for the next response, keeping its buffers.
func (f *framing) reset() {
	*f = framing{scratch: f.scratch[:0]}
}

// done reports whether a whole response has been read.
func (f *framing) done() bool { return f.phase == phDone }

// feed consumes the front of b and returns how many bytes it used. The
// response is complete when f.done(); bytes after it are left unconsumed.
// A body kept in place (f.body pointing into b) is valid until b changes.
func (f *framing) feed(b []byte) (int, error) {
	used := 0
	for f.phase != phDone {
		n, err := f.step(b[used:])
		used += n
		if err != nil || n == 0 {
			return used, err
		}
	}
	return used, nil
}

// step advances through at most one phase; 0 bytes used means more are
// needed (or the response is complete).
func (f *framing) step(b []byte) (int, error) {
	switch f.phase {
	case phHeaders:
		return f.headers(b)
	case phLength:
		if f.remain == 0 {
			f.phase = phDone
			return 0, nil
		}
		n := int(min(int64(len(b)), f.remain))
		if n == 0 {
			return 0, nil
		}
		if f.keep && f.body == nil && int64(n) == f.remain {
			f.body = b[:n] // the whole body in one piece: no copy
		} else if err := f.keepBytes(b[:n]); err != nil {
			return 0, err
		}
		f.remain -= int64(n)
		f.n += int64(n)
		if f.remain == 0 {
			f.phase = phDone
		}
		return n, nil
	case phChunkSize:
		line, n, err := f.line(b, 4096)
		if n == 0 || err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		size, perr := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if perr != nil || size < 0 {
			return 0, fmt.Errorf("%w: chunk size %q", errBadFraming, line)
		}
		f.remain = size
		f.phase = phChunkData
		if size == 0 {
			f.phase = phTrailer
		}
		return n, nil
	case phChunkData:
		n := int(min(int64(len(b)), f.remain))
		if n == 0 {
			return 0, nil
		}
		if err := f.keepBytes(b[:n]); err != nil {
			return 0, err
		}
		f.remain -= int64(n)
		f.n += int64(n)
		if f.remain == 0 {
			f.phase = phChunkCRLF
		}
		return n, nil
	case phChunkCRLF:
		line, n, err := f.line(b, 2)
		if n == 0 || err != nil {
			return 0, err
		}
		if len(line) != 0 {
			return 0, fmt.Errorf("%w: chunk data longer than its size", errBadFraming)
		}
		f.phase = phChunkSize
		return n, nil
	case phTrailer:
		line, n, err := f.line(b, maxHeaderBytes)
		if n == 0 || err != nil {
			return 0, err
		}
		if len(line) == 0 {
			f.phase = phDone
		}
		return n, nil
	case phUntilClose:
		if len(b) == 0 {
			return 0, nil
		}
		if err := f.keepBytes(b); err != nil {
			return 0, err
		}
		f.n += int64(len(b))
		return len(b), nil
	}
	return 0, nil
}

// eof tells f that the connection closed after the bytes fed so far. A
// body delimited by the close is then complete; any other unfinished
// response is an error.
func (f *framing) eof() error {
	if f.phase == phUntilClose {
		f.phase = phDone
		return nil
	}
	if f.phase == phDone {
		return nil
	}
	return errEarlyClose
}

// keepBytes appends body bytes to the kept body, up to maxLine.
func (f *framing) keepBytes(p []byte) error {
	if !f.keep {
		return nil
	}
	if len(f.scratch)+len(p) > maxLine {
		return errLineTooLong
	}
	f.scratch = append(f.scratch, p...)
	f.body = f.scratch
	return nil
}

// line returns the first line of b without its "\r\n" (or bare "\n") and
// the bytes it used; 0 used means no whole line yet. A line longer than
// limit is an error.
func (f *framing) line(b []byte, limit int) ([]byte, int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) > limit {
			return nil, 0, fmt.Errorf("%w: line longer than %d bytes", errBadFraming, limit)
		}
		return nil, 0, nil
	}
	return bytes.TrimSuffix(b[:i], []byte{'\r'}), i + 1, nil
}

// headers parses the status line and headers once all of them are in b.
func (f *framing) headers(b []byte) (int, error) {
	end := headerEnd(b)
	if end < 0 {
		if len(b) > maxHeaderBytes {
			return 0, fmt.Errorf("%w: headers longer than %d bytes", errBadFraming, maxHeaderBytes)
		}
		return 0, nil
	}
	block := b[:end]
	nl := bytes.IndexByte(block, '\n')
	status := bytes.TrimSuffix(block[:nl], []byte{'\r'})
	http10, code, err := parseStatusLine(status)
	if err != nil {
		return 0, err
	}
	length, chunked, hasLength := int64(0), false, false
	f.close = http10
	for rest := block[nl+1:]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		line := bytes.TrimSuffix(rest[:i], []byte{'\r'})
		rest = rest[i+1:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, fmt.Errorf("%w: header line %q", errBadFraming, line)
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, perr := strconv.ParseInt(string(value), 10, 64)
			if perr != nil || n < 0 || (hasLength && n != length) {
				return 0, fmt.Errorf("%w: Content-Length %q", errBadFraming, value)
			}
			length, hasLength = n, true
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = lastTokenIs(value, "chunked")
			if !chunked {
				return 0, fmt.Errorf("%w: Transfer-Encoding %q", errBadFraming, value)
			}
		case asciiEqualFold(name, "connection"):
			if hasToken(value, "close") {
				f.close = true
			} else if hasToken(value, "keep-alive") {
				f.close = false
			}
		}
	}
	if code >= 100 && code < 200 && code != 101 {
		// An interim answer (100 Continue, 103 Early Hints): the real
		// one follows.
		return end, nil
	}
	f.status = code
	f.keep = code == 200
	switch {
	case code == 204 || code == 304 || code == 101:
		f.phase = phDone
	case chunked:
		f.phase = phChunkSize
	case hasLength:
		f.phase, f.remain = phLength, length
	default:
		f.phase, f.close = phUntilClose, true
	}
	return end, nil
}

// headerEnd is the length of the header block of b up to and including the
// empty line that ends it, or -1 when that line has not arrived.
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		j += i
		if line := b[i:j]; len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if i == 0 {
				return -1 // no status line yet, only a stray newline: wait
			}
			return j + 1
		}
		i = j + 1
	}
}

// parseStatusLine reads "HTTP/1.x CODE reason".
func parseStatusLine(line []byte) (http10 bool, code int, err error) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (line[7] != '0' && line[7] != '1') {
		return false, 0, fmt.Errorf("%w: status line %q", errBadFraming, line)
	}
	c := line[9:12]
	if c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' || (len(line) > 12 && line[12] != ' ') {
		return false, 0, fmt.Errorf("%w: status line %q", errBadFraming, line)
	}
	return line[7] == '0', int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0'), nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds tok.
func hasToken(v []byte, tok string) bool {
	for part := range bytes.SplitSeq(v, []byte{','}) {
		if asciiEqualFold(bytes.TrimSpace(part), tok) {
			return true
		}
	}
	return false
}

// lastTokenIs reports whether the last element of the list v is tok.
func lastTokenIs(v []byte, tok string) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return asciiEqualFold(bytes.TrimSpace(v), tok)
}
