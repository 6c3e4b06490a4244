package stream

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

// TestPrime checks the hold-back read: Prime finds the first event with a
// name or data across reads, skips comment-only events, reports a stream
// that ends or fails before one, and consumes nothing.
func TestPrime(t *testing.T) {
	tests := []struct {
		name  string
		reads []string
		end   error
		data  string // the first event's data
		evt   string // its name
		err   error
	}{
		{name: "one-read", reads: []string{"data: {\"a\":1}\n\ndata: [DONE]\n\n"}, data: `{"a":1}`},
		{name: "split-across-reads", reads: []string{"da", "ta: {\"a\"", ":1}\n", "\n"}, data: `{"a":1}`},
		{name: "comments-first", reads: []string{": ping\n\n", ": processing\n\n", "event: message_start\ndata: {}\n\n"}, data: `{}`, evt: "message_start"},
		{name: "empty-body", err: io.EOF},
		{name: "comment-then-end", reads: []string{": ping\n\n"}, err: io.EOF},
		{name: "partial-then-end", reads: []string{"data: {\"a\""}, err: io.EOF},
		{name: "broken", reads: []string{"data: {"}, end: errors.New("reset"), err: errors.New("reset")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newScripted(tc.end, tc.reads...)
			close(up.reads)
			r := NewReader(up, 0)
			defer r.Release()
			var ev Event
			err := r.Prime(&ev)
			if tc.err != nil {
				if err == nil || err.Error() != tc.err.Error() {
					t.Fatalf("Prime = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || string(ev.Data) != tc.data || string(ev.Name) != tc.evt {
				t.Fatalf("Prime = %v, event %q %q", err, ev.Name, ev.Data)
			}
			if got, want := string(r.Buffered()), strings.Join(tc.reads, ""); !strings.HasPrefix(want, got) || !strings.Contains(got, tc.data) {
				t.Fatalf("buffered %q after Prime, want a prefix of %q holding the event", got, want)
			}
		})
	}
}

// TestRelayReplaysPrimedBytes: a relay given a primed Reader sends the
// held-back bytes first, unchanged, and without waiting for another read.
func TestRelayReplaysPrimedBytes(t *testing.T) {
	first := ": hello\n\ndata: {\"a\":1}\n\n"
	up := newScripted(nil, first)
	r := NewReader(up, 0)
	var ev Event
	if err := r.Prime(&ev); err != nil {
		t.Fatal(err)
	}
	w := &chunkWriter{wrote: make(chan struct{}, 4)}
	rel := NewRelay(up, PassThrough(wire.OpenAIChat), Options{Reader: r})
	done := make(chan error, 1)
	go func() { _, err := rel.WriteTo(w); done <- err }()
	select {
	case <-w.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("the primed bytes waited for another upstream read")
	}
	if got := w.all(); got != first {
		t.Fatalf("first chunk %q, want %q", got, first)
	}
	up.reads <- "data: [DONE]\n\n"
	close(up.reads)
	if err := <-done; err != nil {
		t.Fatalf("relay: %v", err)
	}
	_ = rel.CloseWithError(nil)
	if got := w.all(); got != first+"data: [DONE]\n\n" {
		t.Fatalf("client got %q", got)
	}
}

// TestRelayStop: closing Stop ends a relay with the protocol's error event,
// whether the upstream is busy (checked between reads) or silent (noticed
// by the heartbeat, which unblocks the read).
func TestRelayStop(t *testing.T) {
	for _, silent := range []bool{false, true} {
		name := "busy"
		if silent {
			name = "silent"
		}
		t.Run(name, func(t *testing.T) {
			up := newScripted(nil, "event: message_start\ndata: {}\n\n")
			stop := make(chan struct{})
			w := &chunkWriter{wrote: make(chan struct{}, 16)}
			rel := NewRelay(up, PassThrough(wire.Anthropic), Options{Stop: stop, Heartbeat: 20 * time.Millisecond})
			done := make(chan error, 1)
			go func() { _, err := rel.WriteTo(w); done <- err }()
			<-w.wrote
			close(stop)
			if !silent {
				up.reads <- "event: ping\ndata: {}\n\n"
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("relay did not stop")
			}
			_ = rel.CloseWithError(nil)
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("relay ended with %v, want ErrStopped", err)
			}
			if got := w.all(); !strings.HasSuffix(got, "\n\n") || !strings.Contains(got, "event: error\n") || !strings.Contains(got, "shutting down") {
				t.Fatalf("client got %q", got)
			}
		})
	}
}

// deadlineRecorder records the write deadlines a relay sets.
type deadlineRecorder struct {
	mu    sync.Mutex
	times []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.times = append(d.times, t)
	return nil
}

// TestRelayWriteDeadline: writes to the client run under a deadline that
// is cleared when the relay ends (the connection may serve more requests).
func TestRelayWriteDeadline(t *testing.T) {
	up := newScripted(nil, "data: {}\n\n", "data: [DONE]\n\n")
	close(up.reads)
	d := &deadlineRecorder{}
	w := &chunkWriter{}
	rel := NewRelay(up, PassThrough(wire.OpenAIChat), Options{Conn: d, WriteTimeout: time.Minute})
	start := time.Now()
	if _, err := rel.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	_ = rel.CloseWithError(nil)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.times) < 2 || !d.times[len(d.times)-1].IsZero() {
		t.Fatalf("deadlines %v: want at least one set and a final clear", d.times)
	}
	if got := d.times[0].Sub(start); got < time.Minute-time.Second || got > time.Minute+5*time.Second {
		t.Fatalf("first deadline %v after start, want about a minute", got)
	}
}
