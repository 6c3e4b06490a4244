package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// ErrFirstByteTimeout is what the relay should return (or wrap) when an
// upstream sent no response headers in time; Classify treats it as transient.
var ErrFirstByteTimeout = errors.New("upstream sent no response headers within the first-byte timeout")

// Class sorts the result of one upstream attempt for retry purposes.
type Class uint8

const (
	// Fatal: retrying cannot help (client error, cancelled request, success).
	Fatal Class = iota
	// Transient: connect error, reset, timeout, 408 or 5xx. Retry after a
	// backoff, on another key, then down the fallback chain; it speaks
	// against the provider (breaker failure).
	Transient
	// RateLimited: 429. Retry at once on another key; the key cools down.
	RateLimited
	// KeyRejected: the upstream said the key's credential is bad (a 401,
	// 402 or 403 whose body says so: Failure.Credential). Retry at once on
	// another key; the key goes out of service. Not retryable in the
	// Retryable sense: the same request on the same key would fail the same way.
	KeyRejected
)

// String names the class for logs.
func (c Class) String() string {
	switch c {
	case Fatal:
		return "fatal"
	case Transient:
		return "transient"
	case RateLimited:
		return "rate_limited"
	case KeyRejected:
		return "key_rejected"
	}
	return "unknown"
}

// Classify sorts an attempt by its transport error (err, nil if a response
// arrived) or its HTTP status. A 401 or 403 is Fatal by its status alone:
// only the answer's body can say that the key, not the request, is at
// fault (see Failure.Credential). err must come from before the response
// headers: an EOF in the middle of a body is not a retry signal, since the
// client may already have part of it.
func Classify(err error, status int) Class {
	if err != nil {
		return classifyErr(err)
	}
	switch {
	case status == 429:
		return RateLimited
	case status == 408 || (status >= 500 && status <= 599):
		return Transient
	}
	return Fatal
}

func classifyErr(err error) Class {
	if errors.Is(err, context.Canceled) {
		return Fatal // our client went away; nobody to retry for
	}
	switch {
	case errors.Is(err, ErrFirstByteTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, fasthttp.ErrTimeout),
		errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, fasthttp.ErrTLSHandshakeTimeout),
		errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, fasthttp.ErrNoFreeConns),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return Transient
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return Transient // dial, read or write failure before any response
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return Transient // the fallback chain may use another host
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Transient
	}
	return Fatal
}
