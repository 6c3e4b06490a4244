package stream

import (
	"fmt"
	"runtime/debug"

	"github.com/llmproxy/proxy/providers/wire"
)

// PanicError is a panic caught in a relay: the stream ends with an error
// event instead of the panic taking the process (and every other stream)
// down. Stack is where it happened, for the log.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic while relaying: %v", e.Value) }

// Public is what a client may be told.
func (e *PanicError) Public() string { return "the proxy failed while relaying this stream" }

// Recovered turns a recovered panic value into a *PanicError with the
// current stack; it returns nil for nil.
func Recovered(v any) *PanicError {
	if v == nil {
		return nil
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// endAfterPanic tells the client the stream broke, if the translator can
// still say it (a second panic is swallowed: the first one is reported).
func (r *Relay) endAfterPanic(pe *PanicError) {
	defer func() { _ = recover() }()
	if r.fixed == 0 {
		_ = r.write(r.failEvent(nil, wire.Internal, pe.Public()))
	}
}
