package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// The Responses API over a WebSocket, as Codex CLI and OpenAI's SDKs use
// it: GET /v1/responses upgraded; each text frame from the client is a
// response.create event (the POST /v1/responses body plus
// "type":"response.create", without stream); the answer is the same event
// stream as over SSE, one JSON event per text frame. A socket runs one
// response at a time, and a later response.create may continue the last
// response with previous_response_id and only its new input.
//
// Wire facts relied on (OpenAI's "WebSocket mode" guide and its
// websocket-events reference; Codex CLI's codex-api responses_websocket.rs
// and common.rs): the client sends OpenAI-Beta: responses_websockets=
// 2026-02-06 on the upgrade (accepted, not required); response.create
// carries the create body's fields at the top level, stream and background
// not used; Codex also sends generate:false to warm up and
// {"type":"response.processed","response_id"} acknowledgements; errors are
// {"type":"error","status":N,"error":{type,code,message}} and Codex maps
// the status to its HTTP retry rules; the server keeps only the last
// response of a connection for store:false continuations.
//
// Each response.create runs as a synthetic POST /v1/responses through the
// server's own handler: authentication, routing, admission, key pools,
// retries, fallbacks and conversion are the HTTP route's, and the relay
// that would write SSE writes frames instead (wsFrames).

// socketReadBuffer is the read buffer of a socket; frames larger than it
// are read in pieces.
const socketReadBuffer = 4 << 10

// errSocketGone is what writes to a socket whose client left return.
var errSocketGone = errors.New("websocket client went away")

// responsesSocket answers GET /v1/responses. Authentication ran before it
// (the route is wrapped like every other), so a client without a valid
// key gets its 401 as an HTTP answer and never a socket.
func (s *Server) responsesSocket(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	if !websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		s.reject(ctx, wire.OpenAIResponses, wire.MethodNotAllowed,
			"GET "+string(ctx.Path())+" is the Responses WebSocket: send a WebSocket upgrade, or POST for HTTP")
		return
	}
	if s.sockets.draining() {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		s.reject(ctx, wire.OpenAIResponses, wire.Unavailable, "the proxy is shutting down; connect again")
		return
	}
	if s.sockets.count() >= s.maxSockets() {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		s.reject(ctx, wire.OpenAIResponses, wire.Unavailable, "too many open WebSockets (server.max_conns); retry later or use POST")
		return
	}
	sock := newSocket(s, ctx)
	up := websocket.FastHTTPUpgrader{
		ReadBufferSize:  socketReadBuffer,
		WriteBufferSize: 8 << 10,
		WriteBufferPool: &s.sockets.writeBufs,
		CheckOrigin:     s.socketOrigin,
		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			kind := wire.InvalidRequest
			if status == fasthttp.StatusForbidden {
				kind = wire.Permission
			}
			writeError(ctx, wire.OpenAIResponses, kind, reason.Error(), "")
		},
	}
	writeRaw(ctx)                   // frames, not HTTP, from here on
	_ = up.Upgrade(ctx, sock.serve) // a refusal was answered by Error
	s.logDone(ctx, start, 0, wire.OpenAIResponses, "", "", true, nil)
}

// socketOrigin admits a socket opened by a web page only from an origin
// the CORS policy allows: browsers send no preflight for WebSockets, so
// CORS alone would not stop a page from using a proxy whose auth is off.
// Clients that are not browsers send no Origin.
func (s *Server) socketOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	return len(origin) == 0 || s.cors.Allows(origin)
}

// wsSocket is one client WebSocket.
type wsSocket struct {
	s *Server
	// header is the upgrade request's, without the hop-by-hop and
	// WebSocket fields: every response.create is sent with it, so the
	// client's key, Model-Provider and forwarded headers apply to each.
	header   fasthttp.RequestHeader
	client   *client
	provider string
	conn     *websocket.Conn
	// raw is the TCP connection under fasthttp's hijacked one, whose Close
	// does nothing until the handler returns.
	raw  net.Conn
	view net.Conn
	// limit bounds one message, as server.max_body_bytes bounds a body.
	limit int
	// readKey holds the body budget of a large message being read.
	readKey fasthttp.RequestHeader
	idle    time.Duration

	wmu sync.Mutex // serialises frame writes
	// busy: a response is running; gone: the client left or the socket is
	// being closed, so writes fail.
	busy atomic.Bool
	// ended: the running response sent its last event.
	ended atomic.Bool
	gone  atomic.Bool
	drain atomic.Bool
	turns sync.WaitGroup

	mu      sync.Mutex
	current *stream.Relay // the relay of the running response, if any
	timer   *time.Timer
	closing bool

	// conv and rc belong to the running response's goroutine.
	conv   wsConversation
	rc     *fasthttp.RequestCtx
	frames wsFrames
}

// socketDropHeaders are not repeated on the requests a socket makes.
var socketDropHeaders = []string{
	"Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
	"Sec-WebSocket-Protocol", "Origin", "X-Request-Id", "Content-Length", "Transfer-Encoding", "Expect",
	"Content-Type", "Content-Encoding",
}

func newSocket(s *Server, ctx *fasthttp.RequestCtx) *wsSocket {
	w := &wsSocket{s: s, client: clientOf(ctx), limit: s.cfg.Server.MaxBodyBytes, idle: s.cfg.Server.IdleTimeout}
	ctx.Request.Header.CopyTo(&w.header)
	for _, h := range socketDropHeaders {
		w.header.Del(h)
	}
	w.header.SetMethod(fasthttp.MethodPost)
	w.header.SetContentType("application/json")
	w.provider, _ = ctx.UserValue("provider").(string)
	return w
}

// serve runs the socket: it reads messages and starts a response for each
// response.create, until the client leaves, the socket idles out or the
// server shuts down. It returns only once the running response ended.
func (w *wsSocket) serve(conn *websocket.Conn) {
	w.conn = conn
	w.raw = unwrapConn(conn.NetConn())
	// The library answers pings and closes from the reader: under wmu too.
	conn.SetPingHandler(func(data string) error {
		err := w.control(websocket.PongMessage, []byte(data), time.Second)
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	conn.SetCloseHandler(func(code int, _ string) error {
		_ = w.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Second)
		return nil
	})
	sc, _ := w.raw.(syscall.Conn)
	w.view = socketView{Conn: conn.NetConn(), raw: sc}
	// Registered here rather than before the upgrade: fasthttp runs this
	// only once the 101 answer was written.
	switch w.s.sockets.add(w, w.s.maxSockets()) {
	case socketsClosed:
		w.close(websocket.CloseGoingAway, "the proxy is shutting down")
		return
	case socketsFull:
		w.close(websocket.CloseTryAgainLater, "too many open WebSockets")
		return
	}
	defer w.s.sockets.remove(w)
	w.mu.Lock()
	if w.idle > 0 {
		w.timer = time.AfterFunc(w.idle, w.idleOut)
	}
	w.mu.Unlock()
	for {
		msg, err := w.read()
		if errors.Is(err, errMessageTooLarge) {
			w.fail(wire.RequestTooLarge, "a message exceeds "+strconv.Itoa(w.limit)+" bytes (server.max_body_bytes)", "")
			w.closeHandshake(websocket.CloseMessageTooBig, "message too large")
			break
		}
		if err != nil {
			break
		}
		if msg != nil { // nil: a frame the reader answered itself
			w.dispatch(msg)
		}
		// The response, if one started, took its own share for its body.
		w.s.bodies.release(&w.readKey)
	}
	w.s.bodies.release(&w.readKey)
	w.gone.Store(true)
	w.abort()
	w.turns.Wait()
	w.mu.Lock()
	w.closing = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	_ = conn.Close()
}

// errMessageTooLarge is a message over the socket's limit.
var errMessageTooLarge = errors.New("websocket message too large")

// read returns the next text message, nil for one it answered itself (a
// binary frame), or the error that ends the socket. A message is read up
// to the limit and no further: its size is not known before, and the
// memory a client can make the proxy hold is what the limit allows.
func (w *wsSocket) read() ([]byte, error) {
	mt, r, err := w.conn.NextReader()
	if err != nil {
		return nil, err
	}
	w.touch()
	if mt != websocket.TextMessage {
		w.fail(wire.InvalidRequest, "binary frames are not supported: send each event as JSON in a text frame", "")
		return nil, nil
	}
	buf := make([]byte, 0, 4<<10)
	reserved := false
	for {
		if len(buf) == cap(buf) {
			if len(buf) > w.limit {
				return nil, errMessageTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), w.limit+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > smallBody && !reserved {
			// A large message takes its room in the budget the HTTP
			// route's large bodies share, before it is read whole.
			if !w.s.bodies.reserve(&w.readKey, int64(w.limit)) {
				_, _ = io.Copy(io.Discard, r)
				w.fail(wire.Unavailable, "too many large request bodies are being read at once (server.limits.max_inflight_body_bytes); retry later", "")
				return nil, nil
			}
			reserved = true
		}
		if len(buf) > w.limit {
			// Read the rest into nothing, for a while: closing with unread
			// bytes resets the connection, and the client could lose the
			// error event before reading it.
			_ = w.conn.SetReadDeadline(time.Now().Add(closeWait))
			_, _ = io.Copy(io.Discard, r)
			return nil, errMessageTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// dispatch starts a response for msg, or answers at once: one response
// runs at a time, and Codex's response.processed acknowledgements need no
// answer.
func (w *wsSocket) dispatch(msg []byte) {
	if isProcessed(msg) {
		return
	}
	if w.busy.Load() && w.ended.Load() {
		// The running response sent its terminal event and is only winding
		// down: a client may send the next one at once, as Codex does.
		w.turns.Wait()
	}
	if !w.busy.CompareAndSwap(false, true) {
		w.fail(wire.InvalidRequest, "a response is already in progress on this socket: send the next response.create after its terminal event", "type")
		return
	}
	w.ended.Store(false)
	w.turns.Add(1)
	go func() {
		defer w.turns.Done()
		defer w.endTurn()
		defer func() {
			if v := recover(); v != nil {
				w.s.log.Error("websocket response panic", zap.Any("panic", v))
				w.ended.Store(true)
				w.fail(wire.Internal, "internal error", "")
			}
		}()
		w.turn(msg)
	}()
}

// endTurn frees the socket for the next response; a socket told to close
// while it ran closes now.
func (w *wsSocket) endTurn() {
	w.busy.Store(false)
	w.touch()
	if w.drain.Load() || w.s.sockets.draining() {
		w.close(websocket.CloseGoingAway, "the proxy is shutting down")
	}
}

// touch restarts the idle timeout.
func (w *wsSocket) touch() {
	w.mu.Lock()
	if w.timer != nil && !w.closing {
		w.timer.Reset(w.idle)
	}
	w.mu.Unlock()
}

// idleOut closes a socket that has run no response for the idle timeout.
func (w *wsSocket) idleOut() {
	if w.busy.Load() {
		w.touch()
		return
	}
	w.close(websocket.CloseNormalClosure, "idle timeout")
}

// closeWait bounds how long a socket closing waits for the client.
const closeWait = 2 * time.Second

// closeHandshake closes from the read loop: it sends the close frame and
// reads until the client's answers it (or closeWait passes), so that the
// client reads everything sent before.
func (w *wsSocket) closeHandshake(code int, reason string) {
	w.gone.Store(true)
	_ = w.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Second)
	_ = w.conn.SetReadDeadline(time.Now().Add(closeWait))
	for {
		if _, _, err := w.conn.NextReader(); err != nil {
			break
		}
	}
	_ = w.raw.Close()
}

// close sends a close frame and closes the connection, which ends serve's
// read. Safe from any goroutine, and more than once.
// Once serve has ended, fasthttp may have recycled the hijacked
// connection: closing holds mu, under which serve marks its end.
func (w *wsSocket) close(code int, reason string) {
	w.gone.Store(true)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return
	}
	_ = w.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Second)
	_ = w.raw.Close()
}

// abort ends the running response's upstream request at once: the relay
// may be blocked reading a silent upstream, and only a write would tell it
// that the client left.
func (w *wsSocket) abort() {
	w.mu.Lock()
	r := w.current
	w.mu.Unlock()
	if r != nil {
		r.Abort(stream.ErrClientGone)
	}
}

func (w *wsSocket) setCurrent(r *stream.Relay) {
	w.mu.Lock()
	w.current = r
	w.mu.Unlock()
}

// send writes one text frame, bounded by the write timeout.
func (w *wsSocket) send(b []byte) error {
	return w.sendFrames(appendTextFrame(make([]byte, 0, len(b)+10), b))
}

// sendFrames writes ready-made frames in one write: the events of one
// upstream read leave together, as over SSE, rather than a syscall each.
func (w *wsSocket) sendFrames(frames []byte) error {
	if w.gone.Load() {
		return errSocketGone
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	nc := w.conn.NetConn()
	if t := w.s.cfg.Server.WriteTimeout; t > 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(t))
	}
	if _, err := nc.Write(frames); err != nil {
		w.gone.Store(true)
		return errors.Join(errSocketGone, err)
	}
	return nil
}

// control writes a control frame. Every write to the socket goes under
// wmu, the library's own (pongs, close replies) included: sendFrames
// writes to the connection directly.
func (w *wsSocket) control(kind int, data []byte, wait time.Duration) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.conn.WriteControl(kind, data, time.Now().Add(wait))
}

// appendTextFrame appends payload as one unmasked, unfragmented text frame
// (RFC 6455 section 5.2), as a server sends it without compression.
func appendTextFrame(dst, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x81) // FIN, text
	switch {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		for shift := 56; shift >= 0; shift -= 8 {
			dst = append(dst, byte(uint64(n)>>shift))
		}
	}
	return append(dst, payload...)
}

// ping answers the relay's heartbeat: a ping keeps proxies in between from
// closing an idle socket, and fails once the client is gone.
func (w *wsSocket) ping() error {
	if w.gone.Load() {
		return errSocketGone
	}
	if err := w.control(websocket.PingMessage, nil, w.s.cfg.Server.WriteTimeout); err != nil {
		w.gone.Store(true)
		return errors.Join(errSocketGone, err)
	}
	return nil
}

// fail sends an error event made by the proxy.
func (w *wsSocket) fail(kind wire.Kind, msg, param string) {
	_ = w.send(appendSocketError(nil, kind.Status(), wire.AppendError(nil, wire.OpenAIResponses, kind, msg, param)))
}

// socketView is the client connection as a synthetic request sees it:
// the relay sets write deadlines on it, and the wait for an upstream's
// first event peeks at its socket to see whether the client left.
type socketView struct {
	net.Conn
	raw syscall.Conn
}

func (v socketView) SyscallConn() (syscall.RawConn, error) {
	if v.raw == nil {
		return nil, errors.New("not a socket")
	}
	return v.raw.SyscallConn()
}

// unwrapConn finds the connection under fasthttp's hijacked one.
func unwrapConn(c net.Conn) net.Conn {
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return c
}

// wsSockets tracks the open sockets, which fasthttp no longer counts once
// they are hijacked, so that Shutdown can close them.
type wsSockets struct {
	mu     sync.Mutex
	all    map[*wsSocket]struct{}
	closed bool
	wg     sync.WaitGroup
	// writeBufs shares frame write buffers between idle sockets.
	writeBufs sync.Pool
}

// Results of wsSockets.add.
const (
	socketAdded = iota
	socketsClosed
	socketsFull
)

// add registers w unless the server is closing or max sockets are open.
func (t *wsSockets) add(w *wsSocket, max int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return socketsClosed
	}
	if len(t.all) >= max {
		return socketsFull
	}
	if t.all == nil {
		t.all = map[*wsSocket]struct{}{}
	}
	t.all[w] = struct{}{}
	t.wg.Add(1)
	return socketAdded
}

func (t *wsSockets) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.all)
}

// maxSockets bounds the open sockets as server.max_conns bounds
// connections: fasthttp stops counting a connection once it is hijacked.
func (s *Server) maxSockets() int {
	if n := s.cfg.Server.MaxConns; n > 0 {
		return n
	}
	return fasthttp.DefaultConcurrency
}

func (t *wsSockets) remove(w *wsSocket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.all[w]; ok {
		delete(t.all, w)
		t.wg.Done()
	}
}

func (t *wsSockets) draining() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *wsSockets) each(f func(w *wsSocket)) {
	t.mu.Lock()
	list := make([]*wsSocket, 0, len(t.all))
	for w := range t.all {
		list = append(list, w)
	}
	t.mu.Unlock()
	for _, w := range list {
		f(w)
	}
}

// closeSockets ends every socket: idle ones at once, busy ones once their
// response ends, and those still running when ctx ends are stopped like
// any stream (an error event), then closed.
func (s *Server) closeSockets(ctx context.Context) {
	t := &s.sockets
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.each(func(w *wsSocket) {
		w.drain.Store(true)
		if !w.busy.Load() {
			w.close(websocket.CloseGoingAway, "the proxy is shutting down")
		}
	})
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.StopStreams()
	timer := time.NewTimer(stopWait)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	t.each(func(w *wsSocket) {
		w.mu.Lock()
		if !w.closing {
			_ = w.raw.Close()
		}
		w.mu.Unlock()
	})
	<-done
}
