package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrEventTooLarge is returned when one SSE event exceeds the reader's bound.
var ErrEventTooLarge = errors.New("sse event exceeds the size limit")

// Default bounds of a Reader's buffer.
const (
	// InitialBufferSize holds a few typical events (200-600 bytes each): the
	// buffer lives as long as the stream, so it is kept small, and it grows
	// (by size class) only for a stream whose events are larger.
	InitialBufferSize = 2048
	// DefaultMaxEventSize bounds one event (and so the buffer). Upstreams send
	// large single events (a whole tool-call argument, a base64 image), so the
	// bound is generous; a line beyond it is an error, never a silent cut.
	DefaultMaxEventSize = 8 << 20
)

// Event is one parsed SSE event. Its slices point into the Reader's buffer and
// stay valid until the next Fill.
type Event struct {
	// Raw is the event as received, including its terminating blank line.
	Raw []byte
	// Name is the value of the event: field, or empty.
	Name []byte
	// Data is the data: payload; several data lines are joined with '\n'.
	Data []byte
}

// Reader splits an upstream byte stream into SSE events without copying them,
// growing its buffer only as far as the largest event needs.
type Reader struct {
	src     io.Reader
	buf     []byte
	bufp    *[]byte // buf's pool handle
	r, w    int     // buf[r:w] holds bytes not yet returned as events
	max     int
	scratch []byte // joins multi-line data
	err     error
	// synthetic counts bytes Rest added after the source's own bytes.
	synthetic int
	// total counts bytes read from the source.
	total int64
	// size is the buffer taken when bytes arrive after it was given back
	// empty: InitialBufferSize, or the room ReserveBody made.
	size int
	// one takes the first byte that arrives while no buffer is held.
	one [1]byte
}

// NewReader returns a Reader over src whose events may be at most maxEvent
// bytes (DefaultMaxEventSize when maxEvent <= 0).
func NewReader(src io.Reader, maxEvent int) *Reader {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEventSize
	}
	bp := getBuf(InitialBufferSize)
	return &Reader{src: src, bufp: bp, buf: *bp, max: maxEvent, size: InitialBufferSize}
}

// Release returns the Reader's buffer to its pool; the Reader must not be
// used afterwards.
func (s *Reader) Release() {
	putBuf(s.bufp)
	s.bufp, s.buf = nil, nil
}

// Reserve grows the buffer so that n bytes fit at once (up to the event
// bound): for a body of known size, one read can then take all of it.
func (s *Reader) Reserve(n int) {
	n = min(n, s.max)
	if n <= len(s.buf) {
		return
	}
	nbp := getBuf(n)
	nb := *nbp
	copy(nb, s.buf[s.r:s.w])
	s.w -= s.r
	s.r = 0
	putBuf(s.bufp)
	s.bufp, s.buf = nbp, nb
}

// maxBodyReserve bounds the room ReserveBody makes for a body of known
// size: a larger one is read in pieces of this size.
const maxBodyReserve = 64 << 10

// ReserveBody makes room for a body of the given length (up to 64 KB) when
// it is known (length > 0), so that a body that arrives whole is read, and
// relayed, in one piece rather than one per buffer's worth.
func (s *Reader) ReserveBody(length int64) {
	if length > 0 {
		s.size = max(s.size, int(min(length, maxBodyReserve)))
		s.Reserve(s.size)
	}
}

// Reset points the Reader at a new source, keeping its buffer.
func (s *Reader) Reset(src io.Reader) {
	s.src, s.r, s.w, s.err, s.synthetic, s.total = src, 0, 0, nil, 0, 0
}

// Fill performs one Read from the source into free buffer space, first
// compacting or growing the buffer if a partial event fills it. It returns the
// source's error (io.EOF at the end); bytes read before an error are kept.
func (s *Reader) Fill() error {
	if s.err != nil {
		return s.err
	}
	if s.r == s.w {
		return s.fillEmpty()
	}
	if s.r > 0 && s.w == len(s.buf) {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	if s.w == len(s.buf) {
		if len(s.buf) >= s.max {
			s.err = fmt.Errorf("%w (%d bytes)", ErrEventTooLarge, s.max)
			return s.err
		}
		s.Reserve(2 * len(s.buf))
	}
	n, err := s.src.Read(s.buf[s.w:])
	s.w += n
	s.total += int64(n)
	if err != nil {
		s.err = err
	}
	return err
}

// fillEmpty is Fill with nothing buffered. A stream spends most of its
// life waiting for its next event, and every open stream would hold a
// buffer doing nothing (measured: 2 KB of the proxy's memory per open
// stream), so the buffer goes back to its pool and the wait reads one byte
// into the Reader itself. Once that byte is in, the buffer is taken again
// and what arrived with it is read at once, from the source's own buffer
// (no system call is added). That second read could wait only if the
// upstream sent a single byte, and one byte never completes an event: the
// caller would have to wait for more anyway.
func (s *Reader) fillEmpty() error {
	s.r, s.w = 0, 0
	if s.bufp != nil {
		putBuf(s.bufp)
		s.bufp, s.buf = nil, nil
	}
	n, err := s.src.Read(s.one[:])
	if n == 0 {
		if err != nil {
			s.err = err
		}
		return err
	}
	s.bufp = getBuf(s.size)
	s.buf = *s.bufp
	s.buf[0] = s.one[0]
	s.w = 1
	s.total++
	if err == nil {
		n, err = s.src.Read(s.buf[1:])
		s.w += n
		s.total += int64(n)
	}
	if err != nil {
		s.err = err
	}
	return err
}

// Prime reads until the first event that carries a name or data is
// buffered, or the source ends or fails, without consuming anything: a relay
// given this Reader replays every byte read here. Comment-only events (an
// upstream's keep-alives) before it are skipped over. It returns nil with ev
// set when such an event is buffered, else the source's error (io.EOF for a
// stream that ended before any event).
func (s *Reader) Prime(ev *Event) error {
	start := s.r
	for {
		found := false
		for s.Next(ev) {
			if len(ev.Name) > 0 || len(ev.Data) > 0 {
				found = true
				break
			}
		}
		// Rescanning from the start after each read is cheap: the first
		// event is small, and it keeps Fill free to compact the buffer.
		s.r = start
		if found {
			return nil
		}
		if s.err != nil {
			return s.err
		}
		_ = s.Fill()
		start = s.r
	}
}

// Buffered returns the bytes read but not yet returned as events.
func (s *Reader) Buffered() []byte { return s.buf[s.r:s.w] }

// Next parses the next complete event out of the buffered bytes. It returns
// false when no complete event is buffered; it never reads the source.
func (s *Reader) Next(ev *Event) bool {
	start := s.r
	pos := start
	ev.Name, ev.Data = nil, nil
	dataLines := 0
	for {
		line, next, ok := nextLine(s.buf[:s.w], pos, s.err != nil)
		if !ok {
			return false
		}
		pos = next
		if len(line) == 0 {
			if pos-start == lineEndLen(s.buf[:s.w], start) {
				// A blank line with no fields before it: skip it (stray
				// separators between events are legal).
				start = pos
				continue
			}
			ev.Raw = s.buf[start:pos]
			s.r = pos
			return true
		}
		field, value := splitField(line)
		switch string(field) {
		case "data":
			dataLines++
			switch dataLines {
			case 1:
				ev.Data = value
			case 2:
				s.scratch = append(append(append(s.scratch[:0], ev.Data...), '\n'), value...)
				ev.Data = s.scratch
			default:
				s.scratch = append(append(s.scratch, '\n'), value...)
				ev.Data = s.scratch
			}
		case "event":
			ev.Name = value
		}
	}
}

// Rest returns, after the source has ended, bytes that never got their
// terminating blank line, as one final event; false if there are none.
func (s *Reader) Rest(ev *Event) bool {
	if s.err == nil || s.r == s.w {
		return false
	}
	rest := bytes.TrimSpace(s.buf[s.r:s.w])
	if len(rest) == 0 {
		s.r = s.w
		return false
	}
	// Terminate it so that Next can parse it as any other event.
	if s.w+2 > len(s.buf) {
		nbp := getBuf(s.w + 2)
		copy(*nbp, s.buf[:s.w])
		putBuf(s.bufp)
		s.bufp, s.buf = nbp, *nbp
	}
	s.buf[s.w], s.buf[s.w+1] = '\n', '\n'
	s.w += 2
	s.synthetic = 2
	return s.Next(ev)
}

// lineEndLen reports how long the line terminator at buf[i:] is (0 if none).
func lineEndLen(buf []byte, i int) int {
	if i < len(buf) {
		switch buf[i] {
		case '\n':
			return 1
		case '\r':
			if i+1 < len(buf) && buf[i+1] == '\n' {
				return 2
			}
			return 1
		}
	}
	return 0
}

// nextLine finds the line starting at buf[pos]. Lines end in \n, \r\n or a
// lone \r. A \r at the very end of buf is ambiguous until more bytes arrive,
// unless the stream has ended (eof).
func nextLine(buf []byte, pos int, eof bool) (line []byte, next int, ok bool) {
	rest := buf[pos:]
	nl := bytes.IndexByte(rest, '\n')
	seg := rest
	if nl >= 0 {
		seg = rest[:nl]
	}
	if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
		if cr+1 < len(rest) {
			if rest[cr+1] == '\n' {
				return rest[:cr], pos + cr + 2, true
			}
			return rest[:cr], pos + cr + 1, true
		}
		if eof {
			return rest[:cr], pos + cr + 1, true
		}
		return nil, pos, false
	}
	if nl < 0 {
		return nil, pos, false
	}
	return rest[:nl], pos + nl + 1, true
}

// splitField splits "name: value" per the SSE rules: one optional space after
// the colon is dropped; a line starting with ':' is a comment (empty field).
// A line that is bare JSON (Gemini sends {"error":…} without "data:") counts
// as data.
func splitField(line []byte) (field, value []byte) {
	if len(line) > 0 && (line[0] == '{' || line[0] == '[') {
		return dataField, line
	}
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	field, value = line[:i], line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return field, value
}

var dataField = []byte("data")
