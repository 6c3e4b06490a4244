package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// refusedDialErr dials a port that was just closed, for a real *net.OpError.
func refusedDialErr(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Skip("closed port accepted a connection")
	}
	return err
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	dial := refusedDialErr(t)
	tests := []struct {
		name      string
		err       error
		status    int
		want      Class
		retryable bool
	}{
		{"real refused dial", dial, 0, Transient, true},
		{"wrapped refused dial", fmt.Errorf("openai: %w", dial), 0, Transient, true},
		{"ECONNREFUSED", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}, 0, Transient, true},
		{"ECONNRESET in OpError", &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, 0, Transient, true},
		{"EPIPE", fmt.Errorf("write: %w", syscall.EPIPE), 0, Transient, true},
		{"EOF before headers", io.EOF, 0, Transient, true},
		{"unexpected EOF", fmt.Errorf("reading headers: %w", io.ErrUnexpectedEOF), 0, Transient, true},
		{"fasthttp closed", fasthttp.ErrConnectionClosed, 0, Transient, true},
		{"fasthttp timeout", fasthttp.ErrTimeout, 0, Transient, true},
		{"fasthttp dial timeout", fasthttp.ErrDialTimeout, 0, Transient, true},
		{"fasthttp no free conns", fasthttp.ErrNoFreeConns, 0, Transient, true},
		{"first byte timeout", fmt.Errorf("anthropic: %w", ErrFirstByteTimeout), 0, Transient, true},
		{"deadline", context.DeadlineExceeded, 0, Transient, true},
		{"net timeout", timeoutErr{}, 0, Transient, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid"}, 0, Transient, true},
		{"client cancelled", fmt.Errorf("relay: %w", context.Canceled), 0, Fatal, false},
		{"unknown error", errors.New("body too large"), 0, Fatal, false},
		{"error wins over status", io.EOF, 200, Transient, true},
		{"200", nil, 200, Fatal, false},
		{"400", nil, 400, Fatal, false},
		{"404", nil, 404, Fatal, false},
		{"413", nil, 413, Fatal, false},
		{"422", nil, 422, Fatal, false},
		{"408", nil, 408, Transient, true},
		{"429", nil, 429, RateLimited, true},
		{"401", nil, 401, Fatal, false},
		{"402", nil, 402, Fatal, false},
		{"403", nil, 403, Fatal, false},
		{"500", nil, 500, Transient, true},
		{"502", nil, 502, Transient, true},
		{"503", nil, 503, Transient, true},
		{"504", nil, 504, Transient, true},
		{"529 overloaded", nil, 529, Transient, true},
		{"no status no error", nil, 0, Fatal, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err, tc.status); got != tc.want {
				t.Errorf("Classify = %v, want %v", got, tc.want)
			}
			// Worth another attempt: another key (429) or later (5xx).
			if c := Classify(tc.err, tc.status); (c == Transient || c == RateLimited) != tc.retryable {
				t.Errorf("class %v: retryable = %v, want %v", c, !tc.retryable, tc.retryable)
			}
		})
	}
}
