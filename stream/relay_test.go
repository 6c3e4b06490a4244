package stream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

// scriptedUpstream returns one scripted read per Read call (what does not
// fit in the caller's buffer comes with the next call, as from a socket);
// CloseWithError unblocks a Read waiting for the next script entry.
type scriptedUpstream struct {
	reads  chan string
	closed chan error
	once   sync.Once
	end    error  // returned once reads is closed (io.EOF if nil)
	rest   string // of the last script entry, not read yet
}

func newScripted(end error, reads ...string) *scriptedUpstream {
	u := &scriptedUpstream{reads: make(chan string, len(reads)+1), closed: make(chan error, 1), end: end}
	for _, r := range reads {
		u.reads <- r
	}
	return u
}

func (u *scriptedUpstream) Read(p []byte) (int, error) {
	if u.rest != "" {
		n := copy(p, u.rest)
		u.rest = u.rest[n:]
		return n, nil
	}
	select {
	case s, ok := <-u.reads:
		if !ok {
			if u.end != nil {
				return 0, u.end
			}
			return 0, io.EOF
		}
		n := copy(p, s)
		u.rest = s[n:]
		return n, nil
	case err := <-u.closed:
		u.closed <- err
		return 0, errors.New("closed")
	}
}

func (u *scriptedUpstream) CloseWithError(err error) error {
	u.once.Do(func() { u.closed <- err })
	return nil
}

// chunkWriter records each Write, as fasthttp turns each into one HTTP chunk.
type chunkWriter struct {
	mu     sync.Mutex
	chunks []string
	fail   error
	wrote  chan struct{}
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	w.chunks = append(w.chunks, string(p))
	if w.wrote != nil {
		select {
		case w.wrote <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (w *chunkWriter) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.chunks, "")
}

const (
	ev1  = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
	ev2  = "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
	done = "data: [DONE]\n\n"
)

func TestRelayPassThroughBatchesPerRead(t *testing.T) {
	up := newScripted(nil, ev1+ev2, "data: {\"x\"", ":1}\n\n"+done)
	close(up.reads)
	w := &chunkWriter{}
	var out Outcome
	r := NewRelay(up, PassThrough(wire.OpenAIChat), Options{OnFinish: FinishFunc(func(o Outcome) { out = o })})
	if _, err := r.WriteTo(w); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	want := []string{ev1 + ev2, "data: {\"x\":1}\n\n" + done}
	if len(w.chunks) != len(want) {
		t.Fatalf("chunks %q, want %q", w.chunks, want)
	}
	for i := range want {
		if w.chunks[i] != want[i] {
			t.Fatalf("chunk %d = %q, want %q", i, w.chunks[i], want[i])
		}
	}
	if out.Err != nil || out.Events != 4 || out.Bytes != int64(len(ev1+ev2)+len("data: {\"x\":1}\n\n"+done)) {
		t.Fatalf("outcome %+v", out)
	}
}

func TestRelayEndings(t *testing.T) {
	boom := errors.New("connection reset by peer")
	tests := []struct {
		name     string
		proto    wire.Protocol
		reads    []string
		end      error
		wantErr  error
		wantTail string
	}{
		{"clean", wire.OpenAIChat, []string{ev1, done}, nil, nil, done},
		{"truncated", wire.OpenAIChat, []string{ev1}, nil, ErrTruncated, `data: {"error":{"message":"upstream stream ended before its terminator","type":"server_error","param":null,"code":"bad_gateway"}}` + "\n\n"},
		{"reset mid-stream", wire.OpenAIChat, []string{ev1}, boom, boom, `"code":"bad_gateway"}}` + "\n\n"},
		{"reset after terminator", wire.OpenAIChat, []string{ev1, done}, boom, nil, done},
		{"upstream error event", wire.OpenAIChat, []string{ev1, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n"}, nil, nil, "overloaded\"}}\n\n"},
		{"anthropic truncated", wire.Anthropic, []string{"event: message_start\ndata: {}\n\n"}, nil, ErrTruncated, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"upstream stream ended before its terminator\"}}\n\n"},
		{"anthropic clean", wire.Anthropic, []string{"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"}, nil, nil, "message_stop\"}\n\n"},
		{"responses clean", wire.OpenAIResponses, []string{"event: response.completed\ndata: {}\n\n"}, nil, nil, "response.completed\ndata: {}\n\n"},
		{"gemini clean", wire.Gemini, []string{"data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n"}, nil, nil, "STOP\"}]}\n\n"},
		{"gemini truncated", wire.Gemini, []string{"data: {\"candidates\":[]}\n\n"}, nil, ErrTruncated, "\"status\":\"UNAVAILABLE\"}}\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newScripted(tt.end, tt.reads...)
			close(up.reads)
			w := &chunkWriter{}
			_, err := NewRelay(up, PassThrough(tt.proto), Options{}).WriteTo(w)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := w.all(); !strings.HasSuffix(got, tt.wantTail) {
				t.Fatalf("client got %q, want it to end with %q", got, tt.wantTail)
			}
		})
	}
}

func TestRelayHeartbeatAndClientGone(t *testing.T) {
	up := newScripted(nil, ev1) // then silence until closed
	w := &chunkWriter{wrote: make(chan struct{}, 8)}
	r := NewRelay(up, PassThrough(wire.OpenAIChat), Options{Heartbeat: 20 * time.Millisecond})
	errc := make(chan error, 1)
	go func() {
		_, err := r.WriteTo(w)
		errc <- err
	}()
	// The event, then at least one heartbeat while the upstream is silent.
	for i := 0; i < 2; i++ {
		select {
		case <-w.wrote:
		case <-time.After(5 * time.Second):
			t.Fatal("no write")
		}
	}
	if got := w.all(); got != ev1+string(Heartbeat) && !strings.HasPrefix(got, ev1+string(Heartbeat)) {
		t.Fatalf("client got %q", got)
	}
	// The client goes away: the next heartbeat fails and the upstream is closed.
	w.mu.Lock()
	w.fail = errors.New("broken pipe")
	w.mu.Unlock()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("relay ended without error after the client left")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("relay did not stop after the client left")
	}
	select {
	case err := <-up.closed:
		if !errors.Is(err, ErrClientGone) {
			t.Fatalf("upstream closed with %v, want ErrClientGone", err)
		}
	default:
		t.Fatal("upstream not closed")
	}
}

func TestRelayReadFallbackMatchesWriteTo(t *testing.T) {
	reads := []string{ev1, ev2, done}
	up1 := newScripted(nil, reads...)
	close(up1.reads)
	w := &chunkWriter{}
	if _, err := NewRelay(up1, PassThrough(wire.OpenAIChat), Options{}).WriteTo(w); err != nil {
		t.Fatal(err)
	}
	up2 := newScripted(nil, reads...)
	close(up2.reads)
	got, err := io.ReadAll(NewRelay(up2, PassThrough(wire.OpenAIChat), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != w.all() {
		t.Fatalf("Read path %q != WriteTo path %q", got, w.all())
	}
}

// upperTranslator converts by upper-casing data, to exercise the
// converting path.
type upperTranslator struct{ Watcher }

func (u *upperTranslator) PassThrough() bool { return false }
func (u *upperTranslator) Event(dst []byte, ev *Event) ([]byte, error) {
	if _, err := u.Watcher.Event(nil, ev); err != nil {
		return dst, err
	}
	if bytes.Equal(ev.Data, []byte("bad")) {
		return dst, errors.New("untranslatable")
	}
	dst = append(dst, "data: "...)
	return append(append(dst, bytes.ToUpper(ev.Data)...), "\n\n"...), nil
}

func TestRelayConverting(t *testing.T) {
	up := newScripted(nil, "data: abc\n\n", done)
	close(up.reads)
	w := &chunkWriter{}
	if _, err := NewRelay(up, &upperTranslator{Watcher{proto: wire.OpenAIChat}}, Options{}).WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if got, want := w.all(), "data: ABC\n\ndata: [DONE]\n\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	up = newScripted(nil, "data: bad\n\n")
	close(up.reads)
	w = &chunkWriter{}
	if _, err := NewRelay(up, &upperTranslator{Watcher{proto: wire.OpenAIChat}}, Options{}).WriteTo(w); err == nil {
		t.Fatal("want translation error")
	}
	if !strings.Contains(w.all(), "cannot translate upstream event") {
		t.Fatalf("client got %q", w.all())
	}
}

// flushWriter records writes and flushes, as the server's bufio.Writer.
type flushWriter struct {
	chunkWriter
	flushes int
}

func (f *flushWriter) Flush() error { f.flushes++; return nil }

func TestRelayFixedLength(t *testing.T) {
	tests := []struct {
		name        string
		reads       []string
		wantErr     error
		wantBody    string
		wantFlushes int
	}{
		// The server flushes the last read with the response: no flush here.
		{"whole body in one read", []string{ev1 + ev2 + done}, nil, ev1 + ev2 + done, 0},
		{"spread over reads", []string{ev1, ev2, done}, nil, ev1 + ev2 + done, 2},
		{"no terminator: last read withheld", []string{ev1, ev2}, ErrTruncated, ev1, 1},
		{"final event without blank line", []string{ev1, "data: [DONE]"}, nil, ev1 + "data: [DONE]", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := 0
			for _, r := range tt.reads {
				size += len(r)
			}
			up := newScripted(nil, tt.reads...)
			close(up.reads)
			w := &flushWriter{}
			_, err := NewRelay(up, PassThrough(wire.OpenAIChat), Options{FixedLength: int64(size), Heartbeat: time.Millisecond}).WriteTo(w)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := w.all(); got != tt.wantBody {
				t.Fatalf("body %q, want %q", got, tt.wantBody)
			}
			if w.flushes != tt.wantFlushes {
				t.Fatalf("%d flushes, want %d", w.flushes, tt.wantFlushes)
			}
		})
	}
}

// timedWriter records when each chunk reached it; a write of block
// stalls for stall first, as a client that stops reading for a while.
type timedWriter struct {
	mu    sync.Mutex
	at    []time.Time
	data  []string
	block string
	stall time.Duration
	wrote chan struct{}
}

func (w *timedWriter) Write(p []byte) (int, error) {
	if w.block != "" && string(p) == w.block {
		time.Sleep(w.stall)
	}
	w.mu.Lock()
	w.at = append(w.at, time.Now())
	w.data = append(w.data, string(p))
	w.mu.Unlock()
	w.wrote <- struct{}{}
	return len(p), nil
}

// next waits for the next write and returns its text and time.
func (w *timedWriter) next(t *testing.T) (string, time.Time) {
	t.Helper()
	select {
	case <-w.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("no write within 5 s")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	i := len(w.data) - 1
	return w.data[i], w.at[i]
}

// TestHeartbeatCountsSilenceFromLastWrite: the heartbeat timer is not
// reset by each write; when it fires after a write it waits out the rest
// of the silence, so no heartbeat comes sooner than the interval after the
// last event.
func TestHeartbeatCountsSilenceFromLastWrite(t *testing.T) {
	const hb = 80 * time.Millisecond
	up := newScripted(nil, ev1)
	w := &timedWriter{wrote: make(chan struct{}, 16)}
	r := NewRelay(up, PassThrough(wire.OpenAIChat), Options{Heartbeat: hb})
	go func() { _, _ = r.WriteTo(w) }()
	defer r.Abort(errors.New("test over"))
	if got, _ := w.next(t); got != ev1 {
		t.Fatalf("first write %q", got)
	}
	time.Sleep(hb / 2)
	sentAt := time.Now() // the relay writes the event after this
	up.reads <- ev2
	if got, _ := w.next(t); got != ev2 {
		t.Fatalf("second write %q, want the second event", got)
	}
	got, beatAt := w.next(t)
	if got != string(Heartbeat) {
		t.Fatalf("third write %q, want a heartbeat", got)
	}
	if quiet := beatAt.Sub(sentAt); quiet < hb {
		t.Fatalf("heartbeat %v after the last event was sent, want at least %v", quiet, hb)
	}
}

// TestHeartbeatAfterStalledWrite: a write that blocks past the heartbeat
// interval (a client that stopped reading) does not leave the stream
// without heartbeats once it completes and the upstream is silent.
func TestHeartbeatAfterStalledWrite(t *testing.T) {
	const hb = 30 * time.Millisecond
	up := newScripted(nil, ev1)
	w := &timedWriter{wrote: make(chan struct{}, 16), block: ev1, stall: 4 * hb}
	r := NewRelay(up, PassThrough(wire.OpenAIChat), Options{Heartbeat: hb})
	go func() { _, _ = r.WriteTo(w) }()
	defer r.Abort(errors.New("test over"))
	if got, _ := w.next(t); got != ev1 {
		t.Fatalf("first write %q", got)
	}
	if got, _ := w.next(t); got != string(Heartbeat) {
		t.Fatalf("after the stalled write: %q, want a heartbeat", got)
	}
}

// TestNoHeartbeatTimerForWholeStream: a stream whose events and terminator
// came with its first read is relayed without a heartbeat timer; one that
// has to wait for its next event gets one.
func TestNoHeartbeatTimerForWholeStream(t *testing.T) {
	tests := []struct {
		name      string
		reads     []string
		wantTimer bool
	}{
		{"whole", []string{ev1 + ev2 + done}, false},
		{"terminator apart", []string{ev1, done}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newScripted(nil, tc.reads...)
			close(up.reads)
			rd := NewReader(up, 0)
			var ev Event
			if err := rd.Prime(&ev); err != nil {
				t.Fatal(err)
			}
			r := NewRelay(up, PassThrough(wire.OpenAIChat), Options{Heartbeat: time.Hour, Reader: rd})
			if _, err := r.WriteTo(&chunkWriter{}); err != nil {
				t.Fatal(err)
			}
			if got := r.timer != nil; got != tc.wantTimer {
				t.Fatalf("heartbeat timer set: %v, want %v", got, tc.wantTimer)
			}
		})
	}
}
