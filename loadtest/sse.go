package loadtest

import (
	"bufio"
	"bytes"
	"io"
	"time"
)

var (
	dataPrefix = []byte("data:")
	doneMarker = []byte("[DONE]")
)

// readLine returns the next line, joining pieces when a line outgrows the
// bufio buffer. The slice is valid until the next read.
func (w *worker) readLine() ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	w.scratch = append(w.scratch[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = w.br.ReadSlice('\n')
		if len(w.scratch)+len(line) > maxLine {
			return nil, errLineTooLong
		}
		w.scratch = append(w.scratch, line...)
	}
	return w.scratch, err
}

// readSSE parses an event stream of the worker's protocol as it arrives. An
// event ends at a blank line and its data lines are joined with newlines;
// each event is a chunk (its arrival time feeds the gap histogram), the
// first chunk with generated text sets TTFT, a usage block gives the output
// tokens, and a stream without its protocol's end (`data: [DONE]`,
// message_stop, response.completed, a Gemini finishReason) is truncated.
func (w *worker) readSSE(body io.Reader) error {
	s := &w.s
	w.br.Reset(body)
	st := sseState{}
	var readErr error
	for {
		line, err := w.readLine()
		s.bytes += int64(len(line))
		if payload, ok := ssePayload(line); ok {
			if st.pending {
				w.event = append(w.event, '\n')
			} else {
				w.event = w.event[:0]
			}
			w.event = append(w.event, payload...)
			st.pending = true
		} else if st.pending && isBlank(line) {
			w.dispatch(&st)
		}
		if err == io.EOF {
			if st.pending {
				// Lenient: a last event without its blank line still counts.
				w.dispatch(&st)
			}
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	end := time.Now()
	s.truncated = !st.done
	if s.tokens == 0 && st.contentEvents > 0 {
		// Without a usage block, each content event stands for one token.
		s.tokens, s.tokensFromChunks = st.contentEvents, true
	}
	tokens := s.tokens
	if tokens >= 2 && !st.firstContent.IsZero() {
		s.tpot = end.Sub(st.firstContent) / time.Duration(tokens-1)
	}
	if readErr != nil {
		return readErr
	}
	if !st.done && s.class == "" {
		s.class = classTruncated
	}
	return nil
}

// sseState is the per-stream parse state.
type sseState struct {
	pending       bool // data lines collected for an event not yet ended
	done          bool
	last          time.Time
	firstContent  time.Time
	contentEvents int64
}

// dispatch handles the complete event in w.event.
func (w *worker) dispatch(st *sseState) {
	st.pending = false
	if w.proto.doneMarker && bytes.Equal(w.event, doneMarker) {
		st.done = true
		return
	}
	now := time.Now()
	w.s.chunks++
	if !st.last.IsZero() {
		w.gaps = append(w.gaps, now.Sub(st.last))
	}
	st.last = now
	if w.chunk(w.event, st) {
		st.contentEvents++
		if st.firstContent.IsZero() {
			st.firstContent = now
			w.s.ttft = now.Sub(w.s.sent)
		}
	}
}

func isBlank(line []byte) bool {
	return len(line) == 0 || line[0] == '\n' || (line[0] == '\r' && (len(line) == 1 || line[1] == '\n'))
}

// ssePayload returns the value of a data line without the field name, the
// optional space and the line ending.
func ssePayload(line []byte) ([]byte, bool) {
	if !bytes.HasPrefix(line, dataPrefix) {
		return nil, false
	}
	p := line[len(dataPrefix):]
	if len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p, true
}

// chunk inspects one event; it reports whether the event carried content.
func (w *worker) chunk(payload []byte, st *sseState) bool {
	v, err := w.parser.ParseBytes(payload)
	if err != nil {
		if w.s.class == "" {
			w.s.class = classInvalidBody
		}
		return false
	}
	e := w.proto.event(v)
	if e.failed && w.s.class == "" {
		w.s.class = classStreamError
	}
	if e.tokens > 0 {
		w.s.tokens = e.tokens
	}
	if e.done {
		st.done = true
	}
	return e.content
}
