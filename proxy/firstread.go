package proxy

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// fasthttp's server, with ReduceMemoryUsage, waits for a keep-alive
// connection's next request by reading its first byte alone, so that an
// idle connection holds no read buffer, and then reads the rest: two
// read(2)s for every request where one would do (measured with strace -c:
// 4.1 reads a request against the bare fasthttp proxy's 3.1). A
// firstReader serves such a small read from a pooled buffer that it takes
// only for the read(2) itself and keeps only while it holds bytes: the
// request arrives in one read(2), the rest of it is copied out of the
// buffer by the next Read, and an idle connection still holds nothing.

// firstReadBuffer is the pooled buffer a small read fills: the request's
// header block fits (server.max_header_bytes is 4 KB by default), and a
// larger request is read on by the reader's own buffer.
const firstReadBuffer = 4 << 10

// smallRead is the largest read served through the pooled buffer: fasthttp
// asks for one byte, a bufio.Reader filling asks for kilobytes.
const smallRead = 64

var firstReadBuffers = sync.Pool{New: func() any { return new([firstReadBuffer]byte) }}

// firstReader reads one client connection. It is not safe for concurrent
// reads, as no connection's Read is.
type firstReader struct {
	conn *net.TCPConn
	rc   syscall.RawConn

	// held is a pooled buffer with bytes read and not yet returned,
	// held[off:n]; nil when empty.
	held   *[firstReadBuffer]byte
	off, n int

	// The read(2)'s results, set by readFn (bound once, so that a read
	// allocates nothing).
	got    int
	errno  error
	readFn func(fd uintptr) bool
}

func newFirstReader(conn *net.TCPConn) *firstReader {
	r := &firstReader{conn: conn}
	if rc, err := conn.SyscallConn(); err == nil {
		r.rc = rc
		r.readFn = r.fill
	}
	return r
}

// Read returns held bytes first; a small read fills a pooled buffer in one
// read(2); any other read is the connection's own.
func (r *firstReader) Read(p []byte) (int, error) {
	switch {
	case r.held != nil:
		return r.fromHeld(p), nil
	case len(p) > smallRead || len(p) == 0 || r.rc == nil:
		return r.conn.Read(p)
	}
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err // a deadline, or the connection closed: net's own error
	}
	if r.errno != nil {
		errno := r.errno
		r.errno = nil
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(),
			Err: os.NewSyscallError("read", errno)}
	}
	if r.got == 0 {
		return 0, io.EOF
	}
	return r.fromHeld(p), nil
}

// fill is the RawConn callback: one read(2) into a pooled buffer, which is
// given back when the socket is empty (false: wait until readable and call
// again), so that a waiting connection holds none.
func (r *firstReader) fill(fd uintptr) bool {
	buf := firstReadBuffers.Get().(*[firstReadBuffer]byte)
	for {
		n, err := syscall.Read(int(fd), buf[:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			firstReadBuffers.Put(buf)
			return false
		case nil:
			if n > 0 {
				r.held, r.off, r.n = buf, 0, n
			} else {
				firstReadBuffers.Put(buf)
			}
			r.got = n
		default:
			firstReadBuffers.Put(buf)
			r.got, r.errno = 0, err
		}
		return true
	}
}

// fromHeld copies held bytes into p and gives the buffer back once it is
// empty. A connection closed while holding one leaves it to the collector:
// Close may run beside Read.
func (r *firstReader) fromHeld(p []byte) int {
	c := copy(p, r.held[r.off:r.n])
	r.off += c
	if r.off == r.n {
		firstReadBuffers.Put(r.held)
		r.held = nil
	}
	return c
}
