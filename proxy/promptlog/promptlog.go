// Package promptlog records request bodies (the prompts) for debugging,
// one JSON line per request, with credentials masked. It is off by default.
//
// Logging never slows a request down: Log copies the body into a pooled
// buffer and hands it to a bounded queue served by one background goroutine,
// which redacts, encodes and writes. When the queue is full (the disk or the
// console cannot keep up) the entry is dropped and counted (Stats), rather
// than blocking the handler or growing memory without bound.
//
// Line format:
//
//	{"ts":"2026-01-02T15:04:05.123456789Z","request_id":"...","ingress":"openai","model":"gpt-4o","body":{...}}
//
// body is embedded as JSON when it is valid JSON after redaction, otherwise
// as a JSON string. Bodies longer than MaxBodyBytes are cut to that length,
// stored as a string, and marked with "truncated":<original length>.
package promptlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/llmproxy/proxy/proxy/redact"
)

// Modes accepted by New.
const (
	ModeOff     = "off"
	ModeConsole = "console"
	ModeFile    = "file"
)

// QueueSize is how many entries may wait for the writer before Log drops.
const QueueSize = 1024

// MaxBodyBytes caps the body bytes kept per entry (large base64 images).
const MaxBodyBytes = 1 << 20

// Logger writes prompt log lines. A nil *Logger and one made with mode
// "off" accept Log calls and do nothing.
type Logger struct {
	red   *redact.Redactor
	queue chan entry
	quit  chan struct{}
	done  chan struct{}
	out   io.Writer
	file  *rotatingFile // nil in console mode

	closed                  atomic.Bool
	closeOnce               sync.Once
	closeErr                error
	written, dropped, fails atomic.Uint64
}

// Stats are the Logger's running totals.
type Stats struct {
	Written uint64 // lines written
	Dropped uint64 // entries dropped because the queue was full or the logger closed
	Failed  uint64 // lines lost to write errors
}

// New returns a Logger. mode is "off" (or ""), "console" (stderr) or "file".
// In file mode path is written with 0600 permissions and rotated when it
// would exceed maxBytes (<= 0: never), keeping maxFiles older files as
// path.1 (newest) ... path.N.
func New(mode, path string, maxBytes int64, maxFiles int, r *redact.Redactor) (*Logger, error) {
	switch mode {
	case ModeOff, "":
		return nil, nil
	case ModeConsole:
		return start(os.Stderr, nil, r), nil
	case ModeFile:
		if path == "" {
			return nil, errors.New("promptlog: file mode needs a path")
		}
		if maxFiles < 0 {
			return nil, fmt.Errorf("promptlog: max files %d is negative", maxFiles)
		}
		f, err := openRotating(path, maxBytes, maxFiles)
		if err != nil {
			return nil, err
		}
		return start(f, f, r), nil
	}
	return nil, fmt.Errorf("promptlog: unknown mode %q (want off, console or file)", mode)
}

func start(out io.Writer, f *rotatingFile, r *redact.Redactor) *Logger {
	l := &Logger{
		red:   r,
		queue: make(chan entry, QueueSize),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		out:   out,
		file:  f,
	}
	go l.run()
	return l
}

// Enabled reports whether Log does anything, so callers can skip work.
func (l *Logger) Enabled() bool { return l != nil && !l.closed.Load() }

// Log queues one entry. It copies its arguments, so the caller may reuse
// them at once, and never blocks.
func (l *Logger) Log(requestID, ingress, model string, body []byte) {
	if l == nil {
		return
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	e := newEntry(requestID, ingress, model, body)
	select {
	case l.queue <- e:
	default:
		e.release()
		l.dropped.Add(1)
	}
}

// Stats returns the running totals.
func (l *Logger) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Failed: l.fails.Load()}
}

// Close writes what is queued, then closes the file. Entries logged after
// Close are dropped.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.quit)
		<-l.done
		if l.file != nil {
			l.closeErr = l.file.Close()
		}
	})
	return l.closeErr
}

// run is the single writer: it owns the line buffer and the file.
func (l *Logger) run() {
	defer close(l.done)
	var line []byte
	for {
		select {
		case e := <-l.queue:
			line = l.write(line, e)
			// Drain what piled up, then flush once for the batch.
			for more := true; more; {
				select {
				case e := <-l.queue:
					line = l.write(line, e)
				default:
					more = false
				}
			}
			l.flush()
		case <-l.quit:
			for {
				select {
				case e := <-l.queue:
					line = l.write(line, e)
				default:
					l.flush()
					return
				}
			}
		}
	}
}

func (l *Logger) write(line []byte, e entry) []byte {
	line = e.appendLine(line[:0], l.red)
	e.release()
	var err error
	if l.file != nil {
		err = l.file.writeLine(line)
	} else {
		_, err = l.out.Write(line)
	}
	if err != nil {
		l.fails.Add(1)
	} else {
		l.written.Add(1)
	}
	if cap(line) > 4*MaxBodyBytes {
		line = nil // let one giant line's buffer go
	}
	return line
}

func (l *Logger) flush() {
	if l.file != nil {
		if err := l.file.flush(); err != nil {
			l.fails.Add(1)
		}
	}
}
