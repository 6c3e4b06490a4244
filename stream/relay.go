package stream

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

// ErrTruncated marks an upstream stream that ended before its terminator.
var ErrTruncated = errors.New("upstream stream truncated")

// ErrStopped marks a relay ended by its Stop channel (the proxy draining
// at the end of its shutdown grace period).
var ErrStopped = errors.New("stream stopped: the proxy is shutting down")

// ErrClientGone marks a relay stopped because the client stopped accepting bytes.
var ErrClientGone = errors.New("client went away")

// Outcome summarises a finished relay, for the access log and metrics.
type Outcome struct {
	// Err is nil for a stream that ended with its terminator.
	Err error
	// Events counts upstream events; Bytes counts bytes written to the client.
	Events int
	Bytes  int64
	// FirstEvent is when the first event reached the client (zero if none did).
	FirstEvent time.Time
	End        time.Time
}

// Upstream is the body the relay reads. CloseWithError must unblock a Read
// in progress (fasthttp's streamed response bodies do).
type Upstream interface {
	io.Reader
	CloseWithError(err error) error
}

// Relay copies one SSE stream from an upstream to a client. It implements
// fasthttp's BodyWriterTo so that fasthttp hands it the connection's writer:
// each Write it makes becomes one HTTP chunk and one flush.
type Relay struct {
	src       *Reader
	upstream  Upstream
	tr        Translator
	heartbeat time.Duration
	onFinish  Finisher
	// classify maps an upstream read error to the error kind told to the client.
	classify func(error) wire.Kind
	redact   func(dst, b []byte) []byte
	fixed    int64
	// length is the upstream body's size when known (Content-Length): with
	// that many bytes read the relay ends as at EOF, without another read.
	length int64
	flush  flusher

	mu       sync.Mutex // serialises writes between the relay and its heartbeat
	w        io.Writer
	finished bool
	timer    *time.Timer
	beats    bool // heartbeats are on; the timer is set at the first wait
	// lastWrite is when the client was last written to (or the relay
	// started). Writes only note it; the heartbeat timer, when it fires,
	// re-arms itself for the rest of the silence if there was a write since.
	// Resetting the timer on every write cost a runtime timer update per
	// event (about a third of a relayed event's own CPU).
	lastWrite time.Time
	// missed: the timer fired while a write held mu (a client slow to
	// read); that write re-arms it when it is done.
	missed atomic.Bool

	ev  Event // lives here so that passing it to the translator does not allocate
	out []byte
	// outp is the pooled buffer behind out while a step converts events;
	// it goes back to its pool after the step's write (see takeOut).
	outp    *[]byte
	outcome Outcome
	closeMu sync.Once
	// pending holds client bytes for the io.Reader fallback path.
	pending []byte

	// primed: src already holds bytes read before the relay started (the
	// held-back first event); the first step parses them before reading.
	primed   bool
	stop     <-chan struct{}
	stopping atomic.Bool
	conn     DeadlineSetter
	wtimeout time.Duration
	wdead    time.Time
}

// DeadlineSetter is the client connection, for per-write deadlines.
type DeadlineSetter interface {
	SetWriteDeadline(t time.Time) error
}

// Options tunes a Relay.
type Options struct {
	// Heartbeat is how long a stream may be silent before a comment is sent;
	// 0 disables heartbeats.
	Heartbeat time.Duration
	// MaxEventSize bounds one event; see DefaultMaxEventSize.
	MaxEventSize int
	// OnFinish, if set, is called once when the relay ends.
	OnFinish Finisher
	// Classify maps upstream read errors to a client-visible kind (BadGateway by default).
	Classify func(error) wire.Kind
	// BodyLength, when positive, is the upstream body's length (its
	// Content-Length), for any translator: once that many bytes are in,
	// the relay ends as at EOF instead of reading again.
	BodyLength int64
	// FixedLength, when positive, is the exact length of a pass-through
	// upstream body that came with a Content-Length. The client's response
	// then carries the same Content-Length, so the relay flushes itself and
	// leaves the last flush to the server: a body that arrived whole leaves
	// in one write. Heartbeats are off (they would change the length); a
	// body that ends without its terminator is cut short, which the client
	// sees as a broken response rather than a silent end.
	FixedLength int64
	// Reader, if set, is the Reader to relay from, already primed with the
	// stream's first bytes (see Reader.Prime); they are replayed first.
	Reader *Reader
	// Stop, once closed, ends the relay at its next step or heartbeat with
	// the protocol's error event (Unavailable) and ErrStopped.
	Stop <-chan struct{}
	// Conn and WriteTimeout bound each write to the client: a client that
	// stops reading is cut after WriteTimeout rather than holding the
	// upstream stream open.
	Conn         DeadlineSetter
	WriteTimeout time.Duration
	// Redact, if set, rewrites a chunk that holds an upstream error event
	// (upstreams quote the key they rejected) or an error of the relay's
	// own, appending the result to dst. Other chunks are model output and
	// go as they came.
	Redact func(dst, b []byte) []byte
}

// Finisher is told once how a relay ended. An interface rather than a
// func so that a caller can pass the per-stream state it already
// allocated (a pointer in an interface costs nothing) instead of a
// closure, which would be an allocation of its own per stream.
type Finisher interface {
	Finish(Outcome)
}

// FinishFunc adapts a func to Finisher.
type FinishFunc func(Outcome)

// Finish calls f(o).
func (f FinishFunc) Finish(o Outcome) { f(o) }

// flusher is the server's buffered writer in fixed-length mode.
type flusher interface {
	Flush() error
}

// NewRelay prepares a relay of upstream through tr. The relay owns upstream
// from here on and closes it when it ends.
func NewRelay(upstream Upstream, tr Translator, o Options) *Relay {
	r := new(Relay)
	r.Init(upstream, tr, o)
	return r
}

// Init is NewRelay for a Relay that lives inside the caller's own
// per-stream state (one allocation for both). r must be new, its zero
// value; it is not for reusing a Relay that ran.
func (r *Relay) Init(upstream Upstream, tr Translator, o Options) {
	src := o.Reader
	if src == nil {
		src = NewReader(upstream, o.MaxEventSize)
	}
	*r = Relay{
		src:       src,
		primed:    o.Reader != nil,
		stop:      o.Stop,
		conn:      o.Conn,
		wtimeout:  o.WriteTimeout,
		upstream:  upstream,
		tr:        tr,
		heartbeat: o.Heartbeat,
		onFinish:  o.OnFinish,
		classify:  o.Classify,
		redact:    o.Redact,
		fixed:     o.FixedLength,
		length:    max(o.BodyLength, o.FixedLength),
	}
	if r.fixed > 0 {
		if !r.tr.PassThrough() {
			r.fixed = 0 // a converted body has another length
		} else {
			r.heartbeat = 0
			r.src.ReserveBody(r.fixed)
		}
	}
	if r.classify == nil {
		r.classify = defaultClassify
	}
}

func defaultClassify(err error) wire.Kind {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return wire.Timeout
	}
	return wire.BadGateway
}

// SupportsBodyWriteTo tells fasthttp to call WriteTo rather than Read.
func (r *Relay) SupportsBodyWriteTo() bool { return true }

// WriteTo relays the stream into w until the upstream ends, fails, or the
// client stops accepting writes.
func (r *Relay) WriteTo(w io.Writer) (int64, error) {
	err := r.start(w)
	if err == nil {
		err = r.run()
	} else {
		r.endAfterPanic(err.(*PanicError))
	}
	r.finish(err)
	return r.outcome.Bytes, err
}

// start takes the client's writer. Its only error is a recovered panic.
func (r *Relay) start(w io.Writer) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if pe := Recovered(recover()); pe != nil {
			err = pe
		}
	}()
	r.w = w
	if r.fixed > 0 {
		r.flush, _ = w.(flusher)
	}
	r.beats = r.heartbeat > 0 && r.tr.Heartbeat() != nil
	return nil
}

// armHeartbeat starts the heartbeat timer, on the relay's first wait for
// more events: a stream that arrived whole is relayed and done without
// ever setting one.
func (r *Relay) armHeartbeat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastWrite = time.Now()
	r.timer = time.AfterFunc(r.heartbeat, r.beat)
}

func (r *Relay) run() (err error) {
	defer func() {
		if pe := Recovered(recover()); pe != nil {
			r.endAfterPanic(pe)
			err = pe
		}
	}()
	for {
		err := r.step()
		r.releaseOut()
		if err != errContinue {
			return err
		}
	}
}

// takeOut gives a converting step a pooled output buffer with room for the
// events converted from n upstream bytes (a converted event is seldom over
// twice its upstream size; a larger output outgrows it as any slice does).
// Kept per stream, the buffer would be grown afresh by every stream whose
// body arrives whole (measured: 12 KB of garbage per converted WebSocket
// turn) and held by every idle one.
func (r *Relay) takeOut(n int) {
	if r.outp == nil {
		r.outp = getBuf(min(2*n+512, maxBodyReserve))
		r.out = (*r.outp)[:0]
	}
}

// releaseOut returns the step's output buffer; the writers the relay
// writes to copy what they keep.
func (r *Relay) releaseOut() {
	if r.outp != nil {
		putBuf(r.outp)
		r.outp, r.out = nil, nil
	}
}

// errContinue is step's signal that the stream goes on.
var errContinue = errors.New("continue")

// step reads once from the upstream and writes every complete event it then
// has as one chunk. It returns errContinue while the stream goes on, nil when
// it ended with its terminator, and the reason otherwise.
func (r *Relay) step() error {
	ev := &r.ev
	if r.stop != nil {
		select {
		case <-r.stop:
			return r.stopped()
		default:
		}
	}
	var readErr error
	if r.primed {
		r.primed = false
		readErr = r.src.err
	} else {
		if r.beats && r.timer == nil && !r.tr.Done() {
			// Past the terminator only the end of the body is awaited.
			r.armHeartbeat()
		}
		readErr = r.src.Fill()
	}
	if readErr != nil && r.stopping.Load() {
		return r.stopped()
	}
	if r.length > 0 && readErr == nil && r.src.total >= r.length {
		// The whole body is in: no need for another read to learn of the end.
		readErr = io.EOF
		r.src.err = io.EOF
	}
	start := r.src.r
	if !r.tr.PassThrough() {
		r.takeOut(r.src.w - start)
	}
	r.out = r.out[:0]
	var trErr error
	errored := false
	for r.src.Next(ev) {
		r.outcome.Events++
		errored = errored || IsErrorEvent(ev)
		if r.out, trErr = r.tr.Event(r.out, ev); trErr != nil {
			break
		}
	}
	end := r.src.r
	if readErr == io.EOF && trErr == nil {
		end = r.lastEvent(ev, &errored)
	}
	chunk := r.out
	if r.tr.PassThrough() {
		// Complete events sit contiguously in the buffer: forward them as they came.
		chunk = r.src.buf[start:end]
	}
	if errored && r.redact != nil {
		if r.fixed > 0 {
			if red := r.redact(nil, chunk); len(red) != len(chunk) {
				// A secret in a body of fixed length: withhold the rest,
				// the short body tells the client it broke.
				return ErrTruncated
			}
		} else {
			chunk = r.redact(nil, chunk)
		}
	}
	if r.fixed > 0 {
		return r.stepFixed(chunk, readErr)
	}
	if trErr != nil {
		fail := r.failEvent(nil, wire.BadGateway, "cannot translate upstream event: "+trErr.Error())
		if r.tr.PassThrough() {
			chunk = append(append(make([]byte, 0, len(chunk)+len(fail)), chunk...), fail...)
		} else {
			chunk = append(chunk, fail...)
		}
		if err := r.write(chunk); err != nil {
			return err
		}
		return trErr
	}
	var endErr error
	ended := false
	if readErr == io.EOF && !r.tr.PassThrough() && !errored {
		// The end came with the last events: the closing events the
		// translator adds go out in the same write.
		r.out, endErr = r.tr.End(r.out)
		chunk, ended = r.out, true
	}
	if len(chunk) > 0 {
		if err := r.write(chunk); err != nil {
			return err
		}
	}
	switch {
	case ended:
		return endErr
	case readErr == nil:
		return errContinue
	case readErr == io.EOF:
		tail, endErr := r.tr.End(r.out[:0])
		if len(tail) > 0 {
			if err := r.write(tail); err != nil {
				return err
			}
		}
		return endErr
	case r.tr.Done():
		// The upstream closed abruptly after its terminator: nothing is lost.
		return nil
	}
	kind := r.classify(readErr)
	if errors.Is(readErr, ErrEventTooLarge) {
		kind = wire.BadGateway
	}
	if err := r.write(r.failEvent(r.out[:0], kind, "upstream stream failed: "+Describe(readErr))); err != nil {
		return err
	}
	return readErr
}

// lastEvent handles the bytes an upstream left after its last complete
// event when it ended: a last event that completes the stream (a
// terminator sent without its blank line) is relayed; anything else is a
// fragment of a cut event, dropped, since the error event that follows
// says the stream broke. It returns where the pass-through chunk ends.
func (r *Relay) lastEvent(ev *Event, errored *bool) int {
	from := r.src.r
	if !r.src.Rest(ev) {
		return r.src.r
	}
	mark := len(r.out)
	out, err := r.tr.Event(r.out, ev)
	if err == nil && r.tr.Done() {
		r.outcome.Events++
		*errored = *errored || IsErrorEvent(ev)
		r.out = out
		return r.src.r
	}
	r.out = r.out[:mark]
	r.src.synthetic = 0
	return from
}

// failEvent is the client protocol's error event for a failure the relay
// found, redacted like an upstream error.
func (r *Relay) failEvent(dst []byte, kind wire.Kind, message string) []byte {
	ev := r.tr.Fail(dst, kind, message)
	if r.redact != nil {
		ev = r.redact(nil, ev)
	}
	return ev
}

// stopped ends a stream the proxy is no longer willing to serve: with an
// error event the client can tell from a clean end, except in fixed-length
// mode where the short body itself says so.
func (r *Relay) stopped() error {
	if r.fixed == 0 {
		_ = r.write(r.tr.Fail(r.out[:0], wire.Unavailable, "the proxy is shutting down; retry the request"))
	}
	return ErrStopped
}

// stepFixed finishes a step in fixed-length mode: the client gets exactly
// the upstream's bytes, flushed per read except for the last read, which
// the server flushes with the end of the response.
func (r *Relay) stepFixed(chunk []byte, readErr error) error {
	if n := r.src.synthetic; n > 0 {
		chunk = chunk[:len(chunk)-n] // bytes Rest added: not the upstream's
		r.src.synthetic = 0
	}
	final := readErr == io.EOF
	if final && !r.tr.Done() {
		// Withhold the last bytes: a short body is an error the client sees.
		return ErrTruncated
	}
	if len(chunk) > 0 {
		if err := r.write(chunk); err != nil {
			return err
		}
	}
	switch {
	case final:
		return nil
	case readErr != nil:
		return readErr
	case r.flush != nil && len(chunk) > 0:
		// Nothing new (a read that ended mid-event): a flush would send
		// the response's headers alone, a write of their own.
		if err := r.flush.Flush(); err != nil {
			return errors.Join(ErrClientGone, err)
		}
	}
	return errContinue
}

// write sends one chunk to the client under the heartbeat lock.
func (r *Relay) write(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var now time.Time
	if r.timer != nil || r.outcome.FirstEvent.IsZero() || r.wtimeout > 0 {
		now = time.Now()
	}
	if r.outcome.FirstEvent.IsZero() {
		r.outcome.FirstEvent = now
	}
	r.lastWrite = now
	r.armWrite(now)
	n, err := r.w.Write(b)
	if r.missed.Load() {
		r.missed.Store(false)
		r.timer.Reset(r.heartbeat)
	}
	r.outcome.Bytes += int64(n)
	if err != nil {
		return errors.Join(ErrClientGone, err)
	}
	return nil
}

// beat runs on the heartbeat timer. Writes only note their time (see
// lastWrite): a timer that fires after one re-arms for the rest of the
// silence, so a heartbeat goes out only after a whole interval without
// writes. A failed write means the client went away: closing the upstream
// unblocks the relay's pending read.
func (r *Relay) beat() {
	locked := false
	defer func() {
		if pe := Recovered(recover()); pe != nil {
			// A timer goroutine has no caller to return to: end the
			// stream through its upstream, which makes run report it.
			if locked {
				r.mu.Unlock()
			}
			r.closeUpstream(pe)
		}
	}()
	if !r.mu.TryLock() {
		// A write is in progress (perhaps blocked on a slow client): not
		// idle, and that write re-arms the timer when it is done.
		r.missed.Store(true)
		return
	}
	locked = true
	if r.finished {
		locked = false
		r.mu.Unlock()
		return
	}
	now := time.Now()
	if quiet := now.Sub(r.lastWrite); quiet < r.heartbeat {
		// Written to since the timer was set: wait out the rest of the
		// silence that would call for a heartbeat.
		r.timer.Reset(r.heartbeat - quiet)
		locked = false
		r.mu.Unlock()
		return
	}
	if r.stop != nil {
		select {
		case <-r.stop:
			// The relay is blocked reading a silent upstream: unblock it; its
			// step then writes the error event.
			r.stopping.Store(true)
			locked = false
			r.mu.Unlock()
			r.closeUpstream(ErrStopped)
			return
		default:
		}
	}
	r.armWrite(now)
	n, err := r.w.Write(r.tr.Heartbeat())
	r.outcome.Bytes += int64(n)
	if err == nil {
		r.lastWrite = now
		r.timer.Reset(r.heartbeat)
	}
	locked = false
	r.mu.Unlock()
	if err != nil {
		r.closeUpstream(errors.Join(ErrClientGone, err))
	}
}

// armWrite moves the client write deadline, under mu. Like the upstream's
// read deadline it moves only when it has drifted by a sixteenth of the
// timeout, which spares a timer update on most writes.
func (r *Relay) armWrite(now time.Time) {
	if r.conn == nil || r.wtimeout <= 0 {
		return
	}
	want := now.Add(r.wtimeout)
	if want.Sub(r.wdead) > r.wtimeout/16 {
		if r.conn.SetWriteDeadline(want) == nil {
			r.wdead = want
		}
	}
}

func (r *Relay) closeUpstream(err error) {
	r.closeMu.Do(func() { _ = r.upstream.CloseWithError(err) })
}

func (r *Relay) finish(err error) {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return
	}
	r.finished = true
	if r.timer != nil {
		r.timer.Stop()
	}
	if !r.wdead.IsZero() {
		// The connection may serve further requests: no stale deadline.
		_ = r.conn.SetWriteDeadline(time.Time{})
	}
	r.mu.Unlock()
	r.closeUpstream(err)
	r.outcome.Err = err
	r.outcome.End = time.Now()
	if r.onFinish != nil {
		r.onFinish.Finish(r.outcome)
	}
}

// Read is the fallback for writers that do not use WriteTo: it yields the
// same bytes without heartbeats.
func (r *Relay) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.finished {
			return 0, io.EOF
		}
		buf := bufferWriter{b: r.pending[:0]}
		r.w = &buf
		err := r.step()
		r.releaseOut()
		r.pending = buf.b
		if err != errContinue {
			r.finish(err)
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

type bufferWriter struct{ b []byte }

func (b *bufferWriter) Write(p []byte) (int, error) {
	b.b = append(b.b, p...)
	return len(p), nil
}

// CloseWithError is fasthttp's last call on a body stream, with the client
// write error if any. It ends the relay if WriteTo never ran (the client left
// first) and returns the buffer to its pool.
func (r *Relay) CloseWithError(err error) error {
	if err == nil {
		err = ErrClientGone
	}
	r.finish(err)
	r.src.Release()
	return nil
}

// Abort closes the upstream from another goroutine, so that a relay
// blocked reading it ends at once. It is for clients whose departure the
// relay cannot see by writing (a WebSocket whose reader saw the close):
// the relay then ends as when a write fails.
func (r *Relay) Abort(err error) { r.closeUpstream(err) }
