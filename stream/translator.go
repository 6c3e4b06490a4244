package stream

import (
	"github.com/llmproxy/proxy/providers/wire"
)

// Translator turns upstream events into client bytes. A converting
// translator rewrites each event into the client's protocol; a pass-through
// one only watches for the protocol's terminator and lets the relay forward
// the upstream bytes untouched.
type Translator interface {
	// PassThrough reports whether the relay should forward raw upstream bytes.
	// Event is still called for each event, and what it appends is ignored.
	PassThrough() bool
	// Event appends the client bytes for one upstream event.
	Event(dst []byte, ev *Event) ([]byte, error)
	// Done reports whether the upstream's terminator (or its own error event) was seen.
	Done() bool
	// End appends what closes the client stream after the upstream ended
	// cleanly; it returns an error when the upstream ended without its terminator.
	End(dst []byte) ([]byte, error)
	// Fail appends an in-stream error event in the client's protocol.
	Fail(dst []byte, kind wire.Kind, message string) []byte
	// Heartbeat is what to send on an idle stream (an SSE comment); nil for none.
	Heartbeat() []byte
}

// Heartbeat is an SSE comment followed by the blank line that some SDKs need
// to treat it as a complete (ignored) event.
var Heartbeat = []byte(": ping\n\n")

// PassThrough returns a Translator that forwards upstream events untouched
// and recognises protocol p's terminator and in-stream error events.
func PassThrough(p wire.Protocol) *Watcher {
	w := new(Watcher)
	w.Init(p)
	return w
}

// Init makes w a fresh pass-through Translator for protocol p, for a
// Watcher that lives inside the caller's per-stream state.
func (w *Watcher) Init(p wire.Protocol) { *w = Watcher{proto: p} }

// Watcher is the pass-through Translator: it inspects events only as far as
// needed to know whether the stream finished (by the protocol's rules in
// package wire).
type Watcher struct {
	proto wire.Protocol
	done  bool
	// Errored is set when the upstream sent its own in-stream error event.
	Errored bool
	// events counts the events seen: a Responses error event the proxy
	// adds takes the next sequence_number.
	events int
}

func (w *Watcher) PassThrough() bool { return true }
func (w *Watcher) Done() bool        { return w.done }
func (w *Watcher) Heartbeat() []byte { return Heartbeat }

func (w *Watcher) Event(dst []byte, ev *Event) ([]byte, error) {
	w.events++
	switch wire.EventEnd(w.proto, ev.Name, ev.Data) {
	case wire.StreamDone:
		w.done = true
	case wire.StreamFailed:
		w.done, w.Errored = true, true
	}
	return dst, nil
}

// End reports a truncated stream: an upstream that closed before its terminator.
func (w *Watcher) End(dst []byte) ([]byte, error) {
	if w.done {
		return dst, nil
	}
	dst = w.Fail(dst, wire.BadGateway, "upstream stream ended before its terminator")
	return dst, ErrTruncated
}

// Fail appends an in-stream error event in the watcher's protocol.
func (w *Watcher) Fail(dst []byte, kind wire.Kind, message string) []byte {
	return wire.AppendStreamError(dst, w.proto, kind, message, w.events)
}
