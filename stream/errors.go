package stream

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/llmproxy/proxy/providers/wire"
)

// IsErrorEvent reports whether an upstream event is an error, in any
// protocol (wire.IsStreamError).
func IsErrorEvent(ev *Event) bool { return wire.IsStreamError(ev.Name, ev.Data) }

// Describe says what went wrong with an upstream read in words a client
// may see; an error of the proxy's own says so with a Public method. Transport errors quote socket addresses of the proxy's network
// ("read tcp 10.0.0.5:41234->10.0.0.9:443"): they go to the log, never into
// an answer.
func Describe(err error) string {
	var ne net.Error
	var pub interface{ Public() string }
	switch {
	case errors.As(err, &pub):
		return pub.Public()
	case errors.Is(err, ErrEventTooLarge), errors.Is(err, ErrTruncated):
		return err.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "the upstream went silent for longer than its idle timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "the upstream reset the connection"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the upstream closed the stream before its end"
	}
	return "the upstream stream broke"
}
