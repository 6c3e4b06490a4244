package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"golang.org/x/sys/unix"
)

// The event-loop client: the fast path of closed-loop, unpaced, plain
// HTTP/1.1 runs (the ones that measure the target's ceiling, as wrk does).
// A goroutine per user parks and wakes through Go's netpoller on every
// request, which cost the generator 25 µs of CPU per request against a
// static nginx where wrk spends 16 (loadtest/README.md, Generator cost);
// here each loop owns an OS thread and an epoll set over its
// share of the users' connections, writes pre-built request bytes, reads
// the response framing incrementally and files every request through the
// same recorder, request log and timeline as the fasthttp client, with the
// same error classes, duration cap and grace.

// evSupported: this platform has the event-loop client.
const evSupported = true

// evMaxAttempts bounds the sends of one request whose kept-alive connection
// the server closed before answering (fasthttp's MaxIdemponentCallAttempts).
const evMaxAttempts = 5

// evPhase is what the loops of one phase share.
type evPhase struct {
	evPlan
	ep     *endpoint
	reqs   [][]byte      // pre-built requests, rotated like the body pool
	sa     unix.Sockaddr // nil when the name did not resolve
	family int
	// resolveErr is why sa is nil.
	resolveErr error
	stopping   atomic.Bool // the run was cancelled
}

// runEvClient runs one phase of plan against ep on the event loops and
// returns how many users sent a request.
func runEvClient(ep *endpoint, plan evPlan, done <-chan struct{}) (int64, error) {
	ph, err := newEvPhase(ep)
	if err != nil {
		return 0, err
	}
	ph.evPlan = plan
	return runEvPhase(ph, done)
}

type connState uint8

const (
	csIdle       connState = iota // no request, or waiting for its join time
	csConnecting                  // non-blocking connect under way
	csWriting                     // request partly written (socket buffer full)
	csReading                     // request written, answer under way
)

// evConn is one user and its connection.
type evConn struct {
	idx      int
	fd       int // -1: not connected
	rec      *recorder
	state    connState
	armed    uint32 // epoll interest registered for fd
	join     time.Time
	sent     int // requests begun
	nextBody int
	out      []byte // the request being written
	woff     int
	buf      []byte
	r, w     int
	fr       framing
	inFlight bool
	got      bool // a response byte arrived in this attempt
	reused   bool // the connection answered a request before
	attempts int
	capped   bool // the deadline is the cap's grace, not the timeout
	deadline time.Time
	s        sample
}

// evLoop is one OS thread's epoll set and its users.
type evLoop struct {
	ph        *evPhase
	epfd      int
	conns     []*evConn
	nextJoin  int // conns[:nextJoin] have joined
	ready     []*evConn
	spare     []*evConn
	inflight  int
	nextCheck time.Time // earliest deadline of a request in flight
	parser    fastjson.Parser
	events    []unix.EpollEvent
}

// newEvPhase resolves the target and pre-builds the request bytes, exactly
// as fasthttp writes them.
func newEvPhase(ep *endpoint) (*evPhase, error) {
	// IPv4 first, as fasthttp's default dialer does (localhost is then
	// 127.0.0.1, not ::1); an IPv6-only target still resolves.
	// A name that does not resolve fails every request as a connect
	// error, as with fasthttp, rather than the run.
	ph := &evPhase{ep: ep}
	tcp, err := net.ResolveTCPAddr("tcp4", ep.hc.Addr)
	if err != nil {
		tcp, err = net.ResolveTCPAddr("tcp", ep.hc.Addr)
	}
	switch {
	case err != nil:
		ph.resolveErr = fmt.Errorf("resolve %s: %w", ep.hc.Addr, err)
	case tcp.IP.To4() != nil:
		sa := &unix.SockaddrInet4{Port: tcp.Port}
		copy(sa.Addr[:], tcp.IP.To4())
		ph.sa, ph.family = sa, unix.AF_INET
	default:
		sa := &unix.SockaddrInet6{Port: tcp.Port}
		copy(sa.Addr[:], tcp.IP.To16())
		ph.sa, ph.family = sa, unix.AF_INET6
	}
	bodies := [][]byte{ep.bodyPlain}
	if len(ep.pool) > 1 {
		bodies = bodies[:0]
		for _, b := range ep.pool {
			bodies = append(bodies, b[0])
		}
	}
	for _, body := range bodies {
		req := buildRequest(ep, ep.uriPlain, body)
		req.Header.SetUserAgent(ep.hc.Name)
		var b bytes.Buffer
		_, err := req.WriteTo(&b)
		fasthttp.ReleaseRequest(req)
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		ph.reqs = append(ph.reqs, b.Bytes())
	}
	return ph, nil
}

// runEvPhase runs the phase's users over ph.loops event loops until each
// has sent its requests or the phase ended, and returns how many users sent
// at least one request.
func runEvPhase(ph *evPhase, done <-chan struct{}) (active int64, err error) {
	stopWatch := make(chan struct{})
	go func() {
		select {
		case <-done:
			ph.stopping.Store(true)
		case <-stopWatch:
		}
	}()
	defer close(stopWatch)
	n := min(ph.users, ph.loops)
	loops := make([]*evLoop, n)
	for i := range loops {
		l, err := newEvLoop(ph, i, n)
		if err != nil {
			for _, l := range loops[:i] {
				l.close()
			}
			return 0, err
		}
		loops[i] = l
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var act atomic.Int64
	for _, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if lerr := l.run(); lerr != nil {
				mu.Lock()
				err = errors.Join(err, lerr)
				mu.Unlock()
			}
			act.Add(l.active())
			l.close()
		}()
	}
	wg.Wait()
	return act.Load(), err
}

// newEvLoop makes loop i of n, holding users i, i+n, i+2n, ...
func newEvLoop(ph *evPhase, i, n int) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &evLoop{ph: ph, epfd: epfd}
	for u := i; u < ph.users; u += n {
		l.conns = append(l.conns, &evConn{
			idx:      len(l.conns),
			fd:       -1,
			rec:      ph.ep.recs[u%len(ph.ep.recs)],
			join:     ph.start.Add(ph.ramp * time.Duration(u) / time.Duration(ph.users)),
			nextBody: u,
		})
	}
	l.events = make([]unix.EpollEvent, len(l.conns))
	return l, nil
}

func (l *evLoop) active() int64 {
	var n int64
	for _, c := range l.conns {
		if c.sent > 0 {
			n++
		}
	}
	return n
}

func (l *evLoop) close() {
	for _, c := range l.conns {
		l.closeConn(c)
	}
	_ = unix.Close(l.epfd)
}

// run is the loop: wait for events, act on them, start the next requests,
// end requests past their deadline; until no request is in flight and none
// may start. It fails only when epoll itself does.
func (l *evLoop) run() error {
	ph := l.ph
	for {
		now := time.Now()
		stopping := ph.stopping.Load() || !now.Before(ph.end)
		for !stopping && l.nextJoin < len(l.conns) && !l.conns[l.nextJoin].join.After(now) {
			l.ready = append(l.ready, l.conns[l.nextJoin])
			l.nextJoin++
		}
		if len(l.ready) > 0 {
			// Requests begun now that fail at once (a refused connect)
			// come back on the next turn, after the clock is read again.
			batch := l.ready
			l.ready = l.spare[:0]
			for _, c := range batch {
				l.next(c, stopping)
			}
			l.spare = batch[:0]
			now = time.Now()
		}
		if l.inflight > 0 && !now.Before(l.nextCheck) {
			l.expire(now)
		}
		if l.inflight == 0 && len(l.ready) == 0 && (stopping || l.nextJoin == len(l.conns)) {
			return nil
		}
		n, err := l.wait(l.waitMs(now, stopping))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Not expected with a valid epoll fd; end every request rather
			// than spin.
			l.abort()
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range l.events[:n] {
			l.handle(l.conns[ev.Fd], ev.Events)
		}
	}
}

// wait collects ready sockets. It polls first without telling the runtime
// (a raw syscall that cannot block): under load some socket is nearly
// always ready, and a syscall the runtime knows of lets the scheduler's
// monitor take the P away and wake threads to run it, which costs more
// than the poll. Only an empty poll is followed by a blocking wait that the
// runtime knows of.
func (l *evLoop) wait(ms int) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
		uintptr(len(l.events)), 0, 0, 0)
	if errno == 0 && n > 0 || ms == 0 {
		return int(n), errnoErr(errno)
	}
	return unix.EpollWait(l.epfd, l.events, ms)
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket,
// which return at once, so the runtime need not hear of them (see wait).
func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errnoErr(errno)
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errnoErr(errno)
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// waitMs is how long epoll_wait may sleep: until the next deadline or join,
// and at most 50 ms so a cancelled run is noticed.
func (l *evLoop) waitMs(now time.Time, stopping bool) int {
	if len(l.ready) > 0 {
		return 0
	}
	d := 50 * time.Millisecond
	if l.inflight > 0 {
		d = min(d, l.nextCheck.Sub(now))
	}
	if !stopping && l.nextJoin < len(l.conns) {
		d = min(d, l.conns[l.nextJoin].join.Sub(now))
	}
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// next begins c's next request, unless the phase is over or c's budget
// spent.
func (l *evLoop) next(c *evConn, stopping bool) {
	if stopping || c.sent >= l.ph.perUser {
		return
	}
	ph := l.ph
	now := time.Now()
	if !now.Before(ph.end) {
		return
	}
	c.sent++
	// A closed-loop user cannot send before its answer is in: latency
	// counts from the send, as in the fasthttp client.
	c.s = sample{intended: now, sent: now, warmup: now.Before(ph.warmEnd)}
	c.deadline = now.Add(ph.timeout)
	c.capped = !ph.cutAt.IsZero() && c.deadline.After(ph.cutAt)
	if c.capped {
		c.deadline = ph.cutAt
	}
	if l.inflight == 0 || c.deadline.Before(l.nextCheck) {
		l.nextCheck = c.deadline
	}
	c.inFlight = true
	l.inflight++
	ph.ep.inflight.Add(1)
	c.out = ph.reqs[c.nextBody%len(ph.reqs)]
	c.nextBody++
	c.attempts = 0
	l.attempt(c)
}

// attempt sends c's request, connecting first when needed.
func (l *evLoop) attempt(c *evConn) {
	c.attempts++
	c.woff, c.got = 0, false
	c.fr.reset()
	if c.fd < 0 {
		if err := l.dial(c); err != nil {
			// fasthttp counts a name that does not resolve as "other".
			class := classConnect
			if l.ph.sa == nil {
				class = classOther
			}
			l.fail(c, class)
			return
		}
		c.state = csConnecting
		return
	}
	l.write(c)
}

// dial opens a non-blocking connection; its completion shows as EPOLLOUT.
func (l *evLoop) dial(c *evConn) error {
	if l.ph.sa == nil {
		return l.ph.resolveErr
	}
	fd, err := unix.Socket(l.ph.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Connect(fd, l.ph.sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		_ = unix.Close(fd)
		return fmt.Errorf("connect: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: int32(c.idx)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = unix.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	c.fd, c.armed, c.reused = fd, ev.Events, false
	c.r, c.w = 0, 0
	if c.buf == nil {
		// Users that never connect (they would join after the cap) cost
		// no buffer.
		c.buf = make([]byte, 16<<10)
	}
	return nil
}

// arm sets the epoll interest of c's socket; the call is skipped when it
// would not change anything, so a request normally costs no epoll_ctl.
func (l *evLoop) arm(c *evConn, events uint32) {
	if c.armed == events {
		return
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(c.idx)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.lost(c, err)
		return
	}
	c.armed = events
}

const evRead = unix.EPOLLIN | unix.EPOLLRDHUP

// write sends what is left of c's request; a full socket buffer waits for
// EPOLLOUT.
func (l *evLoop) write(c *evConn) {
	for c.woff < len(c.out) {
		n, err := rawWrite(c.fd, c.out[c.woff:])
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			c.state = csWriting
			l.arm(c, evRead|unix.EPOLLOUT)
			return
		}
		if err != nil {
			l.lost(c, err)
			return
		}
		c.woff += n
	}
	c.state = csReading
	l.arm(c, evRead)
}

// handle acts on the events of c's socket.
func (l *evLoop) handle(c *evConn, events uint32) {
	if c.fd < 0 {
		return // closed earlier in this batch
	}
	if c.state == csConnecting {
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if soErr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soErr != 0 {
			l.closeConn(c)
			l.fail(c, classConnect)
			return
		}
		l.write(c)
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.read(c)
		if c.fd < 0 {
			return
		}
	}
	if c.state == csWriting && events&unix.EPOLLOUT != 0 {
		l.write(c)
	}
}

// read takes what arrived on c's socket and advances the response.
func (l *evLoop) read(c *evConn) {
	if c.w == len(c.buf) {
		c.compact()
	}
	n, err := rawRead(c.fd, c.buf[c.w:])
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return // epoll reports the socket again
	case err != nil:
		l.lost(c, err)
		return
	case n == 0:
		if !c.inFlight || c.state == csWriting {
			l.lost(c, errEarlyClose)
			return
		}
		used, ferr := c.fr.feed(c.buf[c.r:c.w])
		c.r += used
		if ferr == nil && !c.fr.done() {
			ferr = c.fr.eof()
		}
		if ferr != nil {
			l.lost(c, ferr)
			return
		}
		l.complete(c, true)
		return
	}
	c.w += n
	if !c.inFlight {
		// Bytes nobody asked for: the connection is out of step.
		l.closeConn(c)
		return
	}
	c.got = true
	used, ferr := c.fr.feed(c.buf[c.r:c.w])
	c.r += used
	if ferr != nil {
		l.closeConn(c)
		l.fail(c, classOther)
		return
	}
	if c.fr.done() {
		l.complete(c, false)
		return
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
}

// compact makes room at the end of c's buffer; a header block that fills
// it doubles it (the framing bounds headers and lines, so this stops).
func (c *evConn) compact() {
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
		return
	}
	c.buf = append(c.buf, make([]byte, len(c.buf))...)
}

// complete files c's answer and readies its next request.
func (l *evLoop) complete(c *evConn, eof bool) {
	s := &c.s
	now := time.Now()
	s.headers = now.Sub(s.sent)
	s.bytes = c.fr.n
	if code := c.fr.status; code != 200 {
		s.class = statusClass(code)
	} else if v, err := l.parser.ParseBytes(c.fr.body); err != nil {
		s.class = classInvalidBody
	} else if ok, tokens := l.ph.ep.proto.plain(v); !ok {
		s.class = classInvalidBody
	} else {
		s.tokens = tokens
	}
	s.end = time.Now()
	if eof || c.fr.close || c.state == csWriting {
		l.closeConn(c)
	} else {
		c.reused = true
		c.state = csIdle
		if c.r == c.w {
			c.r, c.w = 0, 0
		}
	}
	c.fr.body = nil
	l.finish(c)
}

// lost handles a connection that failed or closed during an attempt: a
// kept-alive connection the server closed before answering is retried on
// a new one (the request never reached it, or was not answered); anything
// else fails the request.
func (l *evLoop) lost(c *evConn, err error) {
	reused := c.reused
	l.closeConn(c)
	if !c.inFlight {
		return
	}
	if reused && !c.got && c.attempts < evMaxAttempts && retryable(err) {
		l.attempt(c)
		return
	}
	class := classOther
	if errors.Is(err, unix.ECONNREFUSED) {
		class = classConnect
	}
	l.fail(c, class)
}

func retryable(err error) bool {
	return errors.Is(err, errEarlyClose) || errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)
}

// fail ends c's request with an error class.
func (l *evLoop) fail(c *evConn, class string) {
	c.s.end = time.Now()
	c.s.class = class
	l.finish(c)
}

// finish files c's request and queues its next one.
func (l *evLoop) finish(c *evConn) {
	s := &c.s
	// A request the cap's grace ended is not a failure of the target.
	if c.capped && s.class == classTimeout && !s.end.Before(l.ph.cutAt) {
		s.class = classCut
	}
	l.ph.ep.record(c.rec, s, nil)
	c.inFlight = false
	l.inflight--
	l.ph.ep.inflight.Add(-1)
	l.ready = append(l.ready, c)
}

// expire ends the requests past their deadline (closing their connections,
// as fasthttp does) and finds the next deadline.
func (l *evLoop) expire(now time.Time) {
	var next time.Time
	for _, c := range l.conns {
		if !c.inFlight {
			continue
		}
		if now.Before(c.deadline) {
			if next.IsZero() || c.deadline.Before(next) {
				next = c.deadline
			}
			continue
		}
		class := classTimeout
		if c.state == csConnecting && !c.capped {
			class = classConnect
		}
		l.closeConn(c)
		l.fail(c, class)
	}
	l.nextCheck = next
}

// abort ends every request in flight after a failure of the loop itself.
func (l *evLoop) abort() {
	for _, c := range l.conns {
		if c.inFlight {
			l.closeConn(c)
			l.fail(c, classOther)
		}
	}
}

func (l *evLoop) closeConn(c *evConn) {
	if c.fd < 0 {
		return
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	_ = unix.Close(c.fd)
	c.fd, c.armed, c.state = -1, 0, csIdle
	c.r, c.w = 0, 0
}
