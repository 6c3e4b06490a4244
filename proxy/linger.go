package proxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// A request refused on its headers (no key, a wrong or revoked key, no
// body budget, a body over the limit) is answered without its body being
// read, and its connection closed. The client may still be sending that
// body: a socket closed with unread bytes makes the kernel send a reset,
// which can destroy the answer before the client reads it, so the client
// sees "connection reset" instead of its 401 (measured: 4 of 10 requests
// with a 1 MB body). Such a connection therefore closes as nginx's
// lingering close does: the answer goes out, the write side is shut (the
// client reads the answer to its end), and what the client still sends
// is read and thrown away, bounded in time and bytes, before the socket
// closes. Nothing is buffered: the bytes land in one shared scratch buffer.

const (
	// lingerTime bounds how long a refused connection is drained.
	lingerTime = 2 * time.Second
	// lingerBytes bounds how much of it is read.
	lingerBytes = 64 << 20
	// maxLingering bounds the connections drained at once; beyond, they
	// close at once (the reset is then the client's problem).
	maxLingering = 256
)

// lingerer wraps the listener's TCP connections so that a refused one can
// close lingering, and ends every drain on Shutdown.
type lingerer struct {
	slots chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	live  map[*net.TCPConn]struct{}
	shut  bool
	// scratch is where drained bytes land; nobody reads them.
	scratch sync.Pool
}

func newLingerer() *lingerer {
	return &lingerer{slots: make(chan struct{}, maxLingering), live: map[*net.TCPConn]struct{}{},
		scratch: sync.Pool{New: func() any { return new([32 << 10]byte) }}}
}

// listener wraps ln's accepted connections.
func (l *lingerer) listener(ln net.Listener) net.Listener { return lingerListener{ln, l} }

type lingerListener struct {
	net.Listener
	l *lingerer
}

func (ll lingerListener) Accept() (net.Conn, error) {
	c, err := ll.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		// Embedding keeps every method of the TCP connection (SyscallConn
		// for peerClosed, CloseWrite, SetKeepAlive for fasthttp).
		return &lingerConn{TCPConn: tc, l: ll.l, first: newFirstReader(tc)}, nil
	}
	return c, err
}

// lingerConn is a client connection that closes lingering once marked.
type lingerConn struct {
	*net.TCPConn
	l       *lingerer
	refused atomic.Bool
	// first makes fasthttp's one-byte read of a request and the read of
	// the rest one read(2) (firstread.go).
	first *firstReader
	// lastChunk: the last chunk's "0\r\n" is held for the next write (see
	// Write); raw: the connection is a WebSocket's, written as it comes.
	lastChunk bool
	raw       bool
}

// chunkedEnd is what fasthttp flushes alone at the end of a chunked body,
// before the trailer's CRLF, which it flushes in a write of its own.
const chunkedEnd = "0\r\n"

// Write sends p, except that the end of a chunked body waits for what
// follows it (the CRLF that ends the trailer): fasthttp flushes the two
// apart, and every stream ended with two small writes of 3 and 2 bytes.
// The held bytes go out before anything else written.
func (c *lingerConn) Write(p []byte) (int, error) {
	if c.lastChunk {
		c.lastChunk = false
		return c.writeAfterEnd(p)
	}
	if !c.raw && string(p) == chunkedEnd {
		c.lastChunk = true
		return len(p), nil
	}
	return c.TCPConn.Write(p)
}

// writeAfterEnd writes the held chunkedEnd and p in one system call.
func (c *lingerConn) writeAfterEnd(p []byte) (int, error) {
	if len(p) <= 16 {
		var b [len(chunkedEnd) + 16]byte
		n := copy(b[:], chunkedEnd)
		n += copy(b[n:], p)
		m, err := c.TCPConn.Write(b[:n])
		return max(m-len(chunkedEnd), 0), err
	}
	bufs := net.Buffers{[]byte(chunkedEnd), p}
	m, err := bufs.WriteTo(c.TCPConn)
	return max(int(m)-len(chunkedEnd), 0), err
}

// ReadFrom is the TCP connection's (sendfile), after any held bytes.
func (c *lingerConn) ReadFrom(r io.Reader) (int64, error) {
	if c.lastChunk {
		c.lastChunk = false
		if _, err := c.TCPConn.Write([]byte(chunkedEnd)); err != nil {
			return 0, err
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// writeRaw marks ctx's connection as one whose writes are not HTTP
// responses (a WebSocket's): they go out as they come.
func writeRaw(ctx *fasthttp.RequestCtx) {
	if c, ok := ctx.Conn().(*lingerConn); ok {
		c.raw = true
	}
}

func (c *lingerConn) Read(p []byte) (int, error) { return c.first.Read(p) }

// WriteTo would be the TCP connection's, reading the socket past the bytes
// first holds: copy through Read instead.
func (c *lingerConn) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{c})
}

// markRefused makes ctx's connection close lingering: its request's body
// was not read.
func markRefused(ctx *fasthttp.RequestCtx) {
	if c, ok := ctx.Conn().(*lingerConn); ok {
		c.refused.Store(true)
	}
}

func (c *lingerConn) Close() error {
	if !c.refused.Load() {
		return c.TCPConn.Close()
	}
	return c.l.drain(c.TCPConn)
}

// drain shuts tc's write side and reads it to its end (bounded) in the
// background, then closes it; with no slot free, or after Shutdown, it
// closes at once.
func (l *lingerer) drain(tc *net.TCPConn) error {
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		return tc.Close()
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.mu.Unlock()
		return tc.Close()
	}
	l.live[tc] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	if err := tc.CloseWrite(); err != nil {
		l.done(tc)
		return tc.Close()
	}
	_ = tc.SetReadDeadline(time.Now().Add(lingerTime))
	go func() {
		defer l.done(tc)
		buf := l.scratch.Get().(*[32 << 10]byte)
		defer l.scratch.Put(buf)
		for n := 0; n < lingerBytes; {
			m, err := tc.Read(buf[:])
			n += m
			if err != nil {
				return // EOF: the client finished; or the deadline
			}
		}
	}()
	return nil
}

func (l *lingerer) done(tc *net.TCPConn) {
	_ = tc.Close()
	l.mu.Lock()
	delete(l.live, tc)
	l.mu.Unlock()
	<-l.slots
	l.wg.Done()
}

// stop ends every drain and waits for them.
func (l *lingerer) stop() {
	l.mu.Lock()
	l.shut = true
	for tc := range l.live {
		_ = tc.SetReadDeadline(time.Now())
	}
	l.mu.Unlock()
	l.wg.Wait()
}
