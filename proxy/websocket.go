package proxy

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// The Responses API over WebSocket, as Codex uses it: GET /v1/responses
// upgraded; the client sends {"type":"response.create", ...} messages whose
// other fields are a Responses create body, and gets back, one text
// message per event, the same events a streamed POST /v1/responses sends
// (the SSE data payloads). previous_response_id may name an earlier
// response on the same socket and then carries only the new input.
//
// Each response.create runs as one streamed POST /v1/responses through the
// proxy's own handler (authentication, routing, retries, conversion for
// any upstream, the relay and its error events, the access log), with the
// socket's key and Host. The socket keeps the last response's whole
// conversation (its input and output items) to expand previous_response_id
// itself, so a chain works on every upstream type and with store:false.

// wsSockets tracks the open sockets, which fasthttp no longer sees once
// hijacked, so that Shutdown can close them and wait for their goroutines.
type wsSockets struct {
	mu   sync.Mutex
	open map[*wsSocket]struct{}
	shut bool
	wg   sync.WaitGroup
}

func (w *wsSockets) add(s *wsSocket) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return false
	}
	if w.open == nil {
		w.open = map[*wsSocket]struct{}{}
	}
	w.open[s] = struct{}{}
	w.wg.Add(1)
	return true
}

func (w *wsSockets) remove(s *wsSocket) {
	w.mu.Lock()
	delete(w.open, s)
	w.mu.Unlock()
	w.wg.Done()
}

// closeAll asks every socket to close (each closes its own connection,
// after the response in flight, which StopStreams ends) and waits for
// their goroutines.
func (w *wsSockets) closeAll() {
	w.mu.Lock()
	w.shut = true
	for s := range w.open {
		s.quitOnce.Do(func() { close(s.quit) })
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// responsesSocket upgrades GET /v1/responses (the key was checked by auth).
func (s *Server) responsesSocket(ctx *fasthttp.RequestCtx) {
	if !websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		s.reject(ctx, wire.OpenAIResponses, wire.MethodNotAllowed,
			"GET /v1/responses is the Responses WebSocket: send Upgrade: websocket, or POST to create a response")
		return
	}
	// What each response.create is sent with: the client's credentials
	// and Host, and the provider prefix of the path it connected to.
	hdr := new(fasthttp.RequestHeader)
	for _, name := range []string{fasthttp.HeaderAuthorization, "x-api-key", "Model-Provider", "OpenAI-Beta"} {
		if v := ctx.Request.Header.Peek(name); len(v) > 0 {
			hdr.SetBytesV(name, v)
		}
	}
	hdr.SetHostBytes(ctx.Host())
	path := append([]byte(nil), ctx.Path()...)
	remote := ctx.RemoteAddr()
	up := websocket.FastHTTPUpgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// The default origin check (Origin must match Host) keeps web pages
		// of other sites off the socket.
	}
	err := up.Upgrade(ctx, func(c *websocket.Conn) {
		sock := &wsSocket{s: s, c: c, hdr: hdr, path: path, remote: remote, quit: make(chan struct{})}
		if !s.sockets.add(sock) {
			_ = c.Close()
			return
		}
		defer s.sockets.remove(sock)
		defer c.Close()
		defer recoverAndLog(s.log, "responses websocket")
		sock.serve()
	})
	if err != nil {
		s.log.Debug("websocket upgrade refused", zap.Error(err))
	}
}

// wsSocket is one client's Responses socket.
type wsSocket struct {
	s      *Server
	c      *websocket.Conn
	hdr    *fasthttp.RequestHeader
	path   []byte
	remote net.Addr
	// gone is set when the client closed the socket or broke it.
	gone atomic.Bool
	// busy: a response is running (from its create until its terminal
	// event reached the client).
	busy atomic.Bool
	// quit asks the socket to close (the server is shutting down).
	quit     chan struct{}
	quitOnce sync.Once
	// last is the previous response's id and its whole conversation
	// (input items then output items, a JSON array's elements).
	lastID    string
	lastItems []byte
	writeMu   sync.Mutex
}

type wsMessage struct {
	data []byte
	err  error
}

// serve reads messages on a goroutine of its own, so a client that leaves
// or sends a second request while a response streams is noticed at once.
func (w *wsSocket) serve() {
	s := w.s
	limit := s.current().cfg.Server.MaxBodyBytes
	idle := s.current().cfg.Server.IdleTimeout
	msgs := make(chan wsMessage, 1)
	busy := &w.busy
	go func() {
		defer recoverAndLog(s.log, "responses websocket reader")
		defer close(msgs)
		for {
			if !busy.Load() && idle > 0 {
				_ = w.c.SetReadDeadline(time.Now().Add(idle))
			}
			typ, data, err := w.readMessage(limit)
			if err != nil {
				if !errors.Is(err, errMessageTooBig) {
					w.gone.Store(true)
				}
				msgs <- wsMessage{err: err}
				return
			}
			if typ != websocket.TextMessage {
				w.sendError(wire.InvalidRequest, "messages must be JSON text frames")
				continue
			}
			if busy.Load() {
				w.sendError(wire.InvalidRequest, "a response is already in progress on this socket; send the next response.create after its response.completed")
				continue
			}
			busy.Store(true)
			_ = w.c.SetReadDeadline(time.Time{}) // no idle limit while a response runs
			msgs <- wsMessage{data: data}
		}
	}()
	for {
		var m wsMessage
		var open bool
		select {
		case m, open = <-msgs:
		case <-w.quit:
			w.close(websocket.CloseGoingAway, "server shutting down")
			_ = w.c.UnderlyingConn().Close() // ends the reader
			for range msgs {
			}
			return
		}
		if !open {
			return
		}
		if m.err != nil {
			if errors.Is(m.err, errMessageTooBig) {
				w.sendError(wire.RequestTooLarge, "message larger than server.max_body_bytes")
				w.close(websocket.CloseMessageTooBig, "message too big")
			}
			return
		}
		w.create(m.data)
		busy.Store(false)
		if idle > 0 {
			_ = w.c.SetReadDeadline(time.Now().Add(idle))
		}
	}
}

// errMessageTooBig is a message over server.max_body_bytes.
var errMessageTooBig = errors.New("message larger than server.max_body_bytes")

// readMessage reads one message of at most limit bytes; a longer one is
// errMessageTooBig after limit+1 bytes (the rest is never read: the
// socket closes), so the client can be told why before the close.
func (w *wsSocket) readMessage(limit int) (int, []byte, error) {
	typ, r, err := w.c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return 0, nil, err
	}
	if len(data) > limit {
		return 0, nil, errMessageTooBig
	}
	return typ, data, nil
}

func (w *wsSocket) close(code int, reason string) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// send writes one event to the client; false when the client is gone.
func (w *wsSocket) send(data []byte) bool {
	if w.gone.Load() {
		return false
	}
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if wt := w.s.current().cfg.Server.WriteTimeout; wt > 0 {
		_ = w.c.SetWriteDeadline(time.Now().Add(wt))
	}
	if err := w.c.WriteMessage(websocket.TextMessage, data); err != nil {
		w.gone.Store(true)
		return false
	}
	return true
}

// sendError writes a Responses error event for a failure of the socket
// itself (a bad message, one too many); failures of a response come as
// that response's own events.
func (w *wsSocket) sendError(kind wire.Kind, msg string) {
	w.sendErrorBody(kind.Status(), wire.AppendError(nil, wire.OpenAIResponses, kind, msg, ""))
}

// sendErrorBody wraps an HTTP error answer ({"error":{...}}) as the
// socket's error event: {"type":"error","status":N,"error":{...}}.
func (w *wsSocket) sendErrorBody(status int, body []byte) {
	b := append([]byte(nil), `{"type":"error","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	inner := errorObject(body)
	if inner == nil {
		inner = wire.AppendError(nil, wire.OpenAIResponses, wire.KindForStatus(status), "the request failed with HTTP "+strconv.Itoa(status), "")
		inner = errorObject(inner)
	}
	b = append(append(append(b, `,"error":`...), inner...), '}')
	w.send(b)
}
