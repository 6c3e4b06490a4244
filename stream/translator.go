package stream

import (
	"bytes"

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
func PassThrough(p wire.Protocol) *Watcher { return &Watcher{proto: p} }

// Watcher is the pass-through Translator: it inspects events only as far as
// needed to know whether the stream finished.
type Watcher struct {
	proto wire.Protocol
	done  bool
	// Errored is set when the upstream sent its own in-stream error event.
	Errored bool
}

func (w *Watcher) PassThrough() bool { return true }
func (w *Watcher) Done() bool        { return w.done }
func (w *Watcher) Heartbeat() []byte { return Heartbeat }

var (
	doneData        = []byte("[DONE]")
	errorPrefix     = []byte(`{"error"`)
	finishReasonKey = []byte(`"finishReason"`)
)

func (w *Watcher) Event(dst []byte, ev *Event) ([]byte, error) {
	switch w.proto {
	case wire.OpenAIChat:
		if bytes.Equal(ev.Data, doneData) {
			w.done = true
		} else if bytes.HasPrefix(ev.Data, errorPrefix) {
			w.done, w.Errored = true, true
		}
	case wire.Anthropic:
		switch string(ev.Name) {
		case "message_stop":
			w.done = true
		case "error":
			w.done, w.Errored = true, true
		}
	case wire.OpenAIResponses:
		switch string(ev.Name) {
		case "response.completed", "response.incomplete":
			w.done = true
		case "response.failed", "error":
			w.done, w.Errored = true, true
		}
	case wire.Gemini:
		if bytes.HasPrefix(ev.Data, errorPrefix) {
			w.done, w.Errored = true, true
		} else if bytes.Contains(ev.Data, finishReasonKey) {
			w.done = true
		}
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
	return AppendErrorEvent(dst, w.proto, kind, message)
}

// AppendErrorEvent appends a complete in-stream error event of protocol p.
func AppendErrorEvent(dst []byte, p wire.Protocol, kind wire.Kind, message string) []byte {
	switch p {
	case wire.Anthropic:
		dst = append(dst, "event: error\ndata: "...)
	case wire.OpenAIResponses:
		// Responses streams announce errors as their own event type.
		dst = append(dst, "event: error\ndata: "...)
	default:
		dst = append(dst, "data: "...)
	}
	dst = wire.AppendError(dst, p, kind, message, "")
	return append(dst, "\n\n"...)
}
