package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// dialer opens an upstream connection: TCP, the timeouts of timedConn, and
// for an https upstream the TLS handshake, all on a goroutine of its own.
//
// fasthttp dials on the goroutine that serves the client's connection, at
// the bottom of the whole request's stack: the dial (and, at its first
// write, the TLS handshake's crypto) pushed that goroutine from 8 KB of
// stack to 16 KB or more, where a stream then held it parked for minutes
// (the runtime halves a stack only at a garbage collection that finds it
// idle, one halving per collection). A goroutine started for the dial
// grows its own stack and frees it when done; a dial costs a goroutine
// start and a channel hand-off more, against the tens of microseconds of
// the connect and the milliseconds of a handshake.
type dialer struct {
	tcp     *fasthttp.TCPDialer
	connect time.Duration // bounds the TCP connect and, separately, the handshake
	tls     *tls.Config   // nil for plain http
	// firstByte and idle are timedConn's.
	firstByte, idle time.Duration
}

// dialed is a dial's outcome, handed back from the dialing goroutine.
type dialed struct {
	conn net.Conn
	err  error
}

// Dial is the HostClient's Dial: it waits for dial run aside.
func (d *dialer) Dial(addr string) (net.Conn, error) {
	done := make(chan dialed, 1) // buffered: the dialing goroutine never blocks
	go func() {
		c, err := d.dial(addr)
		done <- dialed{c, err}
	}()
	r := <-done
	return r.conn, r.err
}

// dial connects to addr and, for TLS, completes the handshake, so that the
// connection fasthttp gets is ready (fasthttp takes a conn with a
// Handshake method as TLS already and does not handshake again).
func (d *dialer) dial(addr string) (net.Conn, error) {
	c, err := d.tcp.DialTimeout(addr, d.connect)
	if err != nil {
		return nil, err
	}
	tc := &timedConn{Conn: c, firstByte: d.firstByte, idle: d.idle}
	if d.tls == nil {
		return tc, nil
	}
	conn := tls.Client(tc, d.tls)
	ctx, cancel := context.WithTimeout(context.Background(), d.connect)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return conn, nil
}
