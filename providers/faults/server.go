package faults

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// Request is what the server saw of one request.
type Request struct {
	Method string
	Path   string
	// Key is the credential the request carried: a Bearer token, x-api-key,
	// x-goog-api-key or ?key=. Tests use it to see which key was chosen.
	Key    string
	Model  string
	Stream bool
	Script Script
}

// Disconnect reports a client that went away before its response ended.
type Disconnect struct {
	Script Script
	// Chunks is how many content chunks had been sent.
	Chunks int
}

// maxLog bounds the request log; counters keep counting past it.
const maxLog = 4096

// Server is the fault-injecting upstream. Close it at the end of the test.
type Server struct {
	ln      net.Listener
	srv     *fasthttp.Server
	served  chan struct{}
	closing chan struct{}
	once    sync.Once
	gone    chan Disconnect

	requests    atomic.Int64
	disconnects atomic.Int64

	mu     sync.Mutex
	queue  []Script
	def    Script
	log    []Request
	conns  map[net.Conn]struct{} // hijacked connections, closed by Close
	closed bool
	wg     sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and serves until Close. def answers requests
// that have neither an X-Fault header nor a queued script.
func Start(def Script) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faults: listen: %w", err)
	}
	s := &Server{
		ln:      ln,
		served:  make(chan struct{}),
		closing: make(chan struct{}),
		gone:    make(chan Disconnect, 256),
		def:     def,
		conns:   make(map[net.Conn]struct{}),
	}
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Logger:                nopLogger{},
		NoDefaultServerHeader: true,
		MaxRequestBodySize:    16 << 20,
		// fasthttp's worker-pool cleaner sleeps this long between checks of
		// its stop channel; the 10 s default would outlive Close by seconds
		// and trip goleak in every test that uses this server.
		MaxIdleWorkerDuration: 50 * time.Millisecond,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// Addr is the listening host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return "http://" + s.Addr() }

// Enqueue appends scripts used, in order, by requests without an X-Fault header.
func (s *Server) Enqueue(scripts ...Script) {
	s.mu.Lock()
	s.queue = append(s.queue, scripts...)
	s.mu.Unlock()
}

// SetDefault changes the script used once the queue is empty.
func (s *Server) SetDefault(sc Script) {
	s.mu.Lock()
	s.def = sc
	s.mu.Unlock()
}

// Pending is the number of queued scripts not yet used.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Requests counts requests received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Log returns a copy of the requests seen (the first 4096).
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Disconnects delivers an event each time a client leaves mid-response
// (the first 256 undelivered are buffered; DisconnectCount counts all).
func (s *Server) Disconnects() <-chan Disconnect { return s.gone }

// DisconnectCount counts clients that left mid-response.
func (s *Server) DisconnectCount() int64 { return s.disconnects.Load() }

// Close stops the server, ends stalled responses and waits for every
// goroutine it started.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closing)
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.srv.ShutdownWithContext(ctx)
		// Shutdown closes only the listeners Serve has registered: a Close
		// that comes before the Serve goroutine got there would leave
		// Accept blocked forever (seen as a hung test run).
		_ = s.ln.Close()
		<-s.served
		s.wg.Wait()
	})
	return err
}

// ClosedAddr returns a 127.0.0.1 address nothing listens on (a port that
// was just bound and released), for connection-refused tests.
func ClosedAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("faults: listen: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("faults: close: %w", err)
	}
	return addr, nil
}

func (s *Server) pick(ctx *fasthttp.RequestCtx) (Script, error) {
	if h := ctx.Request.Header.Peek(HeaderFault); len(h) > 0 {
		return ParseScript(string(h))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		sc := s.queue[0]
		s.queue = s.queue[1:]
		return sc, nil
	}
	return s.def, nil
}

// reqInfo is what a response needs from the request body.
type reqInfo struct {
	model  string
	stream bool
	usage  bool
}

func parseRequest(body []byte) reqInfo {
	ri := reqInfo{model: "m"}
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return ri
	}
	if m := v.GetStringBytes("model"); len(m) > 0 {
		ri.model = string(m)
	}
	ri.stream = v.GetBool("stream")
	ri.usage = v.GetBool("stream_options", "include_usage")
	return ri
}

func requestKey(ctx *fasthttp.RequestCtx) string {
	h := &ctx.Request.Header
	if a := string(h.Peek("Authorization")); a != "" {
		if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
			return tok
		}
		return a
	}
	for _, name := range []string{"x-api-key", "x-goog-api-key"} {
		if k := h.Peek(name); len(k) > 0 {
			return string(k)
		}
	}
	return string(ctx.QueryArgs().Peek("key"))
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.requests.Add(1)
	sc, err := s.pick(ctx)
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusBadRequest)
		return
	}
	sc = sc.withDefaults()
	ri := parseRequest(ctx.PostBody())
	s.mu.Lock()
	if len(s.log) < maxLog {
		s.log = append(s.log, Request{
			Method: string(ctx.Method()), Path: string(ctx.Path()), Key: requestKey(ctx),
			Model: ri.model, Stream: ri.stream, Script: sc,
		})
	}
	s.mu.Unlock()

	switch {
	case sc.Kind == Status:
		s.writeStatus(ctx, sc)
	case sc.Kind == OK && !ri.stream:
		ctx.SetContentType("application/json")
		ctx.SetBody(appendCompletion(nil, ri.model, sc.Chunks))
	default:
		// Everything else needs the raw connection: to reset it, to stall
		// while watching for the client to leave, or to end a stream badly.
		raw := ctx.Conn()
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) { s.serveRaw(c, raw, sc, ri) })
	}
}

func (s *Server) writeStatus(ctx *fasthttp.RequestCtx, sc Script) {
	if sc.RetryAfter != "" {
		ctx.Response.Header.Set("Retry-After", sc.RetryAfter)
	}
	ctx.SetStatusCode(sc.Status)
	ctx.SetContentType("application/json")
	ctx.SetBody(statusBody(sc.Status))
}
