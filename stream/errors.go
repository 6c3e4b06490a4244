package stream

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
)

var (
	eventError     = []byte("error")
	responseFailed = []byte("response.failed")
	errorObject    = []byte(`{"error"`)
)

// IsErrorEvent reports whether an upstream event is an error: "event:
// error" (Anthropic, Responses), "event: response.failed", or a data
// payload that is an error object (OpenAI Chat, Gemini).
func IsErrorEvent(ev *Event) bool {
	if bytes.Equal(ev.Name, eventError) || bytes.Equal(ev.Name, responseFailed) {
		return true
	}
	return bytes.HasPrefix(bytes.TrimLeft(ev.Data, " \t"), errorObject)
}

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
