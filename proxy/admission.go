package proxy

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// Admission runs on a request's headers, before fasthttp reads its body:
// fasthttp pre-sizes the body buffer from Content-Length, so anything that
// waits for the handler lets a client with no key cost up to
// server.max_body_bytes per connection. Here a request without a valid key
// may send no body at all, and large bodies share one byte budget.

// smallBody is the Content-Length under which a body is read without
// reserving budget: small requests pay nothing for the bookkeeping.
const smallBody = 64 << 10

// refusedBodyLimit is the body limit of a refused request: fasthttp then
// fails it with ErrBodyTooLarge before allocating, and parseError answers
// with the real reason.
const refusedBodyLimit = 1

// bodyBudget shares server.limits.max_inflight_body_bytes among the large
// bodies being read and handled. Reservations are keyed by the request
// header, which fasthttp keeps for the whole request (and reuses for the
// connection's next one).
type bodyBudget struct {
	limit int64
	// entries counts held; while it is zero, release takes no lock, so the
	// small requests that make up most traffic pay an atomic load.
	entries atomic.Int64
	mu      sync.Mutex
	used    int64
	held    map[*fasthttp.RequestHeader]int64
}

func newBodyBudget(limit int64) *bodyBudget {
	return &bodyBudget{limit: limit, held: map[*fasthttp.RequestHeader]int64{}}
}

// reserve takes n bytes for h; false when the budget has no room.
func (b *bodyBudget) reserve(h *fasthttp.RequestHeader, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked(h)
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.held[h] = n
	b.entries.Store(int64(len(b.held)))
	return true
}

// release gives back what h holds, if anything.
func (b *bodyBudget) release(h *fasthttp.RequestHeader) {
	if b.entries.Load() == 0 {
		return
	}
	b.mu.Lock()
	b.releaseLocked(h)
	b.mu.Unlock()
}

func (b *bodyBudget) releaseLocked(h *fasthttp.RequestHeader) {
	if n, ok := b.held[h]; ok {
		if n > 0 {
			b.used -= n
		}
		delete(b.held, h)
		b.entries.Store(int64(len(b.held)))
	}
}

// mark records v for h without reserving anything (busyMark).
func (b *bodyBudget) mark(h *fasthttp.RequestHeader, v int64) {
	b.mu.Lock()
	b.held[h] = v
	b.entries.Store(int64(len(b.held)))
	b.mu.Unlock()
}

// holds reports what h holds: its reservation, busyMark, or 0.
func (b *bodyBudget) holds(h *fasthttp.RequestHeader) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held[h]
}

// Marks in the budget's map say why admission refused a request, for the
// answer parseError gives once fasthttp has refused the body.
const (
	busyMark      = -1
	noKeyMark     = -2
	badKeyMark    = -3
	ambiguousMark = -4
)

// headerReceived decides from the headers how much body fasthttp may read.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	s.bodies.release(h) // the connection's previous request is over
	if !s.mayReadBody(h) {
		return fasthttp.RequestConfig{MaxRequestBodySize: refusedBodyLimit}
	}
	return fasthttp.RequestConfig{}
}

// mayReadBody checks the key, then reserves budget for a large body.
// Requests without a body (GET, HEAD, OPTIONS) always pass: their routes
// answer for themselves.
func (s *Server) mayReadBody(h *fasthttp.RequestHeader) bool {
	if h.IsGet() || h.IsHead() || h.IsOptions() {
		return true
	}
	if h.ContentLength() == -1 && hasRawHeader(h.RawHeaders(), "content-length") {
		// Both Content-Length and Transfer-Encoding: two parsers may read
		// two different bodies (request smuggling). Refused, and the
		// connection closed.
		s.bodies.mark(h, ambiguousMark)
		return false
	}
	if mark := s.keyMark(h); mark != 0 {
		s.bodies.mark(h, mark)
		return false
	}
	n := int64(h.ContentLength())
	if n < 0 {
		n = int64(s.cfg.Server.MaxBodyBytes) // chunked: the size is unknown
	}
	if n <= smallBody || n > int64(s.cfg.Server.MaxBodyBytes) {
		return true // fasthttp refuses an oversized body before reading it
	}
	if !s.bodies.reserve(h, n) {
		s.bodies.mark(h, busyMark)
		return false
	}
	return true
}

// keyMark says why the key of a request is refused (noKeyMark,
// badKeyMark), or 0 if it is not.
func (s *Server) keyMark(h *fasthttp.RequestHeader) int64 {
	keys := s.current().keys
	if !keys.enabled() && s.tenants == nil {
		return 0
	}
	key := headerKey(h)
	if len(key) == 0 {
		return noKeyMark
	}
	if !keys.valid(key) && s.virtualClient(key) == nil {
		return badKeyMark
	}
	return 0
}

// expect answers "Expect: 100-continue" only for a request whose body will
// be read: a client with no key or too large a body gets its final answer
// at once, before it sends the body.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	h := &ctx.Request.Header
	if h.ContentLength() <= s.cfg.Server.MaxBodyBytes && s.bodies.holds(h) >= 0 {
		return fasthttp.StatusContinue
	}
	s.refuseBody(ctx)
	return ctx.Response.StatusCode()
}

// refuseBody answers a request whose body was not read, with the reason
// admission marked (no key, a bad key, no budget left) or, without a mark,
// a body over server.max_body_bytes.
func (s *Server) refuseBody(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	s.setRequestID(ctx)
	kind, msg := wire.RequestTooLarge, "request body exceeds "+strconv.Itoa(s.cfg.Server.MaxBodyBytes)+" bytes (server.max_body_bytes)"
	switch s.bodies.holds(h) {
	case noKeyMark:
		kind, msg = wire.Authentication, missingKeyMessage
	case badKeyMark:
		kind, msg = wire.Authentication, "invalid API key"
	case ambiguousMark:
		kind, msg = wire.InvalidRequest, "the request has both Content-Length and Transfer-Encoding; send one"
	case busyMark:
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		kind, msg = wire.Unavailable, "too many large request bodies are being read at once (server.limits.max_inflight_body_bytes); retry later"
	}
	s.bodies.release(h)
	s.reject(ctx, protocolForPath(h.RequestURI()), kind, msg)
	ctx.SetConnectionClose()
	markRefused(ctx) // the body may still be on its way (linger.go)
}

// headerKey is clientKey for a request whose URI is not parsed yet: the
// ?key= form is taken on Gemini routes only.
func headerKey(h *fasthttp.RequestHeader) []byte {
	if k := headerCredential(h); len(k) > 0 {
		return k
	}
	uri := h.RequestURI()
	q := bytes.IndexByte(uri, '?')
	if q < 0 || protocolForPath(uri[:q]) != wire.Gemini {
		return nil
	}
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	args.ParseBytes(uri[q+1:])
	return append([]byte(nil), args.Peek("key")...)
}

// hostAllowed guards a loopback listener against DNS rebinding: a web page
// whose name resolves to 127.0.0.1 reaches the port, but its requests carry
// its own name in Host. Listeners on other addresses are reached by names
// the operator cannot list, and are left to the API key.
type hostAllowed struct {
	check bool
	names map[string]bool
}

func newHostAllowed(host string, extra []string) hostAllowed {
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return hostAllowed{}
	}
	a := hostAllowed{check: true, names: map[string]bool{}}
	for _, n := range append([]string{"localhost", "127.0.0.1", "::1", host}, extra...) {
		a.names[strings.ToLower(n)] = true
	}
	return a
}

// allows checks the name in a Host header, whatever its port: a rebinding
// page may use the proxy's own port, its name gives it away.
func (a hostAllowed) allows(host []byte) bool {
	if !a.check {
		return true
	}
	name := host
	if i := bytes.LastIndexByte(name, ':'); i >= 0 && bytes.IndexByte(name[i:], ']') < 0 {
		name = name[:i]
	}
	name = bytes.TrimSuffix(bytes.TrimPrefix(name, []byte("[")), []byte("]"))
	if len(name) > 255 {
		return false
	}
	var low [255]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return a.names[string(low[:len(name)])]
}

// hasRawHeader reports whether the raw header block names header (lower
// case) at the start of a line.
func hasRawHeader(raw []byte, header string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if i := bytes.IndexByte(line, ':'); i >= 0 && strings.EqualFold(string(bytes.TrimSpace(line[:i])), header) {
			return true
		}
	}
	return false
}
