package loadtest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// requestLog writes one JSON line per finished request (--request-log):
// the raw material for a scatter plot or any analysis the report lacks.
// Lines are built with strconv appends, not encoding/json, and written
// under one lock into a large buffer; it costs the generator a little, so
// it is off unless asked for.
type requestLog struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	start time.Time
	line  []byte
	err   error
}

func openRequestLog(path string, start time.Time) (*requestLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("request log: %w", err)
	}
	return &requestLog{f: f, w: bufio.NewWriterSize(f, 256<<10), start: start}, nil
}

// ms appends d in milliseconds with microsecond precision.
func appendMs(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
}

// record writes s, a request to the endpoint named ep.
func (l *requestLog) record(ep string, s *sample) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.line[:0], `{"endpoint":`...)
	b = strconv.AppendQuote(b, ep)
	b = append(b, `,"due_s":`...)
	b = strconv.AppendFloat(b, s.intended.Sub(l.start).Seconds(), 'f', 6, 64)
	b = append(b, `,"sent_s":`...)
	b = strconv.AppendFloat(b, s.sent.Sub(l.start).Seconds(), 'f', 6, 64)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, s.streamed)
	b = append(b, `,"outcome":`...)
	outcome := s.class
	if outcome == "" {
		outcome = "ok"
	}
	b = strconv.AppendQuote(b, outcome)
	b = append(b, `,"latency_ms":`...)
	b = appendMs(b, s.end.Sub(s.intended))
	b = append(b, `,"latency_uncorrected_ms":`...)
	b = appendMs(b, s.end.Sub(s.sent))
	b = append(b, `,"headers_ms":`...)
	b = appendMs(b, s.headers)
	b = append(b, `,"ttft_ms":`...)
	b = appendMs(b, s.ttft)
	b = append(b, `,"tokens":`...)
	b = strconv.AppendInt(b, s.tokens, 10)
	b = append(b, `,"chunks":`...)
	b = strconv.AppendInt(b, s.chunks, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, s.bytes, 10)
	b = append(b, `,"warmup":`...)
	b = strconv.AppendBool(b, s.warmup)
	b = append(b, "}\n"...)
	l.line = b
	if _, err := l.w.Write(b); err != nil && l.err == nil {
		l.err = err
	}
}

// close flushes and closes the file, reporting the first write error.
func (l *requestLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); err != nil && l.err == nil {
		l.err = err
	}
	if l.err != nil {
		return fmt.Errorf("request log: %w", l.err)
	}
	return nil
}
