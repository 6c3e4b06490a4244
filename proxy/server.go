package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/llmproxy/proxy/providers/tokencount"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/cors"
	"github.com/llmproxy/proxy/proxy/metrics"
	"github.com/llmproxy/proxy/proxy/promptlog"
	"github.com/llmproxy/proxy/proxy/sysprompt"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"go.uber.org/zap"
)

// Server is the proxy's HTTP server.
type Server struct {
	// cfg is the configuration the server started with: the listener's
	// settings (address, timeouts, sizes) come from it and a reload does not
	// change them. Everything else is read from run.
	cfg     *config.Config
	log     *zap.Logger
	snap    atomic.Pointer[snapshot]
	ids     *requestIDs
	srv     *fasthttp.Server
	parsers fastjson.ParserPool
	// keyBuilders hold the buffers response cache keys are hashed from.
	keyBuilders sync.Pool
	metrics     *metrics.Set
	prompts     *promptlog.Logger
	cors        *cors.Policy
	// stop is closed when the shutdown grace period is over: relays still
	// running end with an error event.
	stop     chan struct{}
	stopOnce sync.Once
	// jitter draws the retry backoffs (tests make them predictable).
	jitter retry.Rand
	// sockets are the open Responses WebSockets (websocket.go).
	sockets wsSockets
	// tokens counts requests for upstreams that cannot (its vocabulary
	// loads on the first count).
	tokens tokencount.Counter
	// reloadMu serialises reloads; retiring tracks old snapshots still
	// waiting for their requests to finish.
	reloadMu sync.Mutex
	retiring sync.WaitGroup
	closed   chan struct{}
	// converters reuse their parsers across requests that change protocol.
	converters sync.Pool
	// accessFields hold access lines' fields (accesslog.go).
	accessFields sync.Pool
	// forwardStates hold forward's state across attempts (forward.go).
	forwardStates sync.Pool
	// primeWatches time the wait for streams' first events (prime.go).
	primeWatches sync.Pool
	// bodies is the byte budget of large request bodies being read.
	bodies *bodyBudget
	// hosts guards a loopback listener against DNS rebinding.
	hosts hostAllowed
	// listeners are those given to Serve; shut is set once Shutdown began.
	lnMu      sync.Mutex
	listeners []net.Listener
	shut      bool
	// linger closes the connections of refused requests gently (linger.go).
	linger *lingerer
	// tenants are the virtual keys and usage records (nil when off).
	tenants *tenantState
}

// current is the snapshot new requests use.
func (s *Server) current() *snapshot { return s.snap.Load() }

// New builds a server from cfg. Providers without usable keys are skipped
// with a warning; having none left is an error.
func New(cfg *config.Config, log *zap.Logger) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{
		cfg:    cfg,
		log:    log,
		ids:    newRequestIDs(),
		stop:   make(chan struct{}),
		jitter: retry.SharedRand{},
		closed: make(chan struct{}),
		bodies: newBodyBudget(cfg.Server.Limits.MaxInflightBodyBytes),
		hosts:  newHostAllowed(cfg.Server.Host, cfg.Server.AllowedHosts),
		linger: newLingerer(),
	}
	s.accessFields.New = newAccessFields
	s.forwardStates.New = newForwardState
	s.primeWatches.New = newPrimeWatch
	s.metrics = metrics.New(metrics.Options{ProcessMetrics: true})
	snap, err := newSnapshot(cfg, log, s.metrics, nil)
	if err != nil {
		return nil, err
	}
	s.install(snap, nil)
	s.metrics.RegisterCacheStats(s.cacheStats)
	if s.cors, err = cors.New(cors.Config{
		Origins: cfg.Server.CORS.Origins, Headers: cfg.Server.CORS.Headers, MaxAge: cfg.Server.CORS.MaxAge,
	}); err != nil {
		return nil, fmt.Errorf("server.cors: %w", err)
	}
	pl := cfg.PromptLog
	if s.prompts, err = promptlog.New(pl.Mode, pl.Path, pl.MaxBytes, pl.MaxFiles, snap.redactor); err != nil {
		return nil, fmt.Errorf("prompt_log: %w", err)
	}
	s.srv = &fasthttp.Server{
		Handler:            s.routes(),
		Name:               "llmproxy",
		ReadTimeout:        cfg.Server.ReadTimeout,
		IdleTimeout:        cfg.Server.IdleTimeout,
		MaxRequestBodySize: cfg.Server.MaxBodyBytes,
		// Bounds the request header block: larger headers are refused with
		// 431 before any handler or upstream is involved.
		ReadBufferSize: cfg.Server.MaxHeaderBytes,
		Concurrency:    cfg.Server.MaxConns,
		// Room for the headers and a typical answer in one write; larger
		// bodies bypass the buffer anyway. Every open stream holds one.
		WriteBufferSize: 4 << 10,
		// Release the read buffer while a request is answered (a stream can
		// last minutes) and between keep-alive requests, and the write buffer
		// between requests: an open stream then holds one buffer, not two.
		ReduceMemoryUsage: true,
		CloseOnShutdown:   true,
		ErrorHandler:      s.parseError,
		// The key is checked and large bodies are budgeted on the headers,
		// before fasthttp allocates a body buffer (admission.go).
		HeaderReceived: s.headerReceived,
		ExpectHandler:  s.expect,
		// fasthttp's own messages quote no request data: keys travel in
		// headers and URLs.
		SecureErrorLogMessage: true,
		// No multipart parsing: the API takes JSON, and fasthttp would read
		// a form (spilling files to disk) before any handler checks it.
		DisablePreParseMultipartForm: true,
		// Streams are long: a whole-response write deadline would cut them.
		WriteTimeout: 0,
		Logger:       newZapPrinter(log),
	}
	if s.tenants, err = openTenants(cfg, log); err != nil {
		return nil, err
	}
	if t := s.Tenants(); t != nil {
		rec := t.Recorder()
		s.metrics.RegisterTenants(func() float64 { return float64(rec.Written()) }, func() float64 { return float64(rec.Dropped()) },
			func() float64 { return float64(t.SharedFailures()) })
	}
	if !snap.keys.enabled() && s.tenants == nil {
		log.Warn("client authentication is OFF (server.auth: off): anyone who can reach the port can use every provider")
	}
	return s, nil
}

func buildProvider(pc *config.Provider) (providers.Provider, error) {
	var proto wire.Protocol
	switch pc.Type {
	case config.TypeMock:
		return mock.NewProvider(pc.Name, pc.Models, mock.Behaviour{Tokens: pc.Mock.Tokens, Delay: pc.Mock.Delay}), nil
	case config.TypeOpenAI:
		proto = wire.OpenAIChat
	case config.TypeOpenAIResponses:
		proto = wire.OpenAIResponses
	case config.TypeClaude:
		proto = wire.Anthropic
	case config.TypeGemini:
		proto = wire.Gemini
	default:
		return nil, fmt.Errorf("provider %s: unknown type %q", pc.Name, pc.Type)
	}
	var keys []string
	for _, k := range pc.APIKeys {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return upstream.New(upstream.Config{
		Headers:          operatorHeaders(pc),
		ForwardHeaders:   pc.ForwardHeaders,
		MaxResponseBytes: pc.MaxResponseBytes,
		MaxResponseTime:  pc.MaxResponseTime,
		MaxHeaderBytes:   pc.MaxResponseHeaderBytes,
		Name:             pc.Name,
		Protocol:         proto,
		BaseURL:          pc.BaseURL,
		Keys:             keys,
		Models:           pc.Models,
		MaxConns:         pc.MaxConns,
		PoolWait:         pc.PoolWait,
		ConnectTimeout:   pc.ConnectTimeout,
		FirstByteTimeout: pc.FirstByteTimeout,
		IdleTimeout:      pc.IdleTimeout,
	})
}

// operatorHeaders are a provider's headers: config, in a stable order.
func operatorHeaders(pc *config.Provider) [][2]string {
	var headers [][2]string
	for name, v := range pc.Headers {
		headers = append(headers, [2]string{name, v})
	}
	sort.Slice(headers, func(i, j int) bool { return headers[i][0] < headers[j][0] })
	return headers
}

func (s *Server) routes() fasthttp.RequestHandler {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.HandleOPTIONS = false
	r.NotFound = s.notFound
	r.MethodNotAllowed = s.methodNotAllowed
	r.PanicHandler = s.panicked

	r.GET("/health", s.health)
	r.GET("/metrics", s.metrics.Handler)
	r.GET("/v1/models", s.auth(wire.OpenAIChat, s.models))
	// models.retrieve of the SDKs; {action} is the name the Gemini POST
	// routes give the same path segment.
	r.GET("/v1/models/{action}", s.auth(wire.OpenAIChat, s.model))
	r.GET("/v1beta/models/{action}", s.auth(wire.Gemini, s.model))
	r.GET("/{provider}/v1/models", s.auth(wire.OpenAIChat, s.models))
	post := func(path string, p wire.Protocol, h fasthttp.RequestHandler) {
		r.POST(path, s.auth(p, s.jsonBody(p, h)))
	}
	for _, prefix := range []string{"", "/{provider}"} {
		post(prefix+"/v1/chat/completions", wire.OpenAIChat, s.chat)
		post(prefix+"/v1/responses", wire.OpenAIResponses, s.responses)
		// The Responses API over WebSocket (Codex): see websocket.go.
		r.GET(prefix+"/v1/responses", s.auth(wire.OpenAIResponses, s.responsesSocket))
		post(prefix+"/v1/messages", wire.Anthropic, s.messages)
		post(prefix+"/v1/messages/count_tokens", wire.Anthropic, s.countTokens)
		post(prefix+"/v1/responses/input_tokens", wire.OpenAIResponses, s.inputTokens)
		post(prefix+"/v1/embeddings", wire.OpenAIChat, s.embeddings)
		post(prefix+"/v1/completions", wire.OpenAIChat, s.completions)
		r.GET(prefix+"/v1beta/models", s.auth(wire.Gemini, s.models))
		// Google's SDKs differ on the API version: go-genai uses v1beta, the Node one v1.
		post(prefix+"/v1beta/models/{action}", wire.Gemini, s.gemini)
		post(prefix+"/v1/models/{action}", wire.Gemini, s.gemini)
	}
	return s.cors.Wrap(func(ctx *fasthttp.RequestCtx) {
		s.setRequestID(ctx)
		defer s.bodies.release(&ctx.Request.Header)
		if !s.hosts.allows(ctx.Host()) {
			s.reject(ctx, protocolForPath(ctx.Path()), wire.Permission, "Host "+strconv.Quote(capString(ctx.Host(), 100))+
				" is not an allowed name for this proxy (server.allowed_hosts); a web page reaching a local port by DNS rebinding is refused")
			return
		}
		r.Handler(ctx)
	})
}

// aliasNames lists the configured model aliases, sorted.
func aliasNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Aliases))
	for a := range cfg.Aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}

// loadSystemPrompt reads the operator's system prompt file, if configured.
func loadSystemPrompt(c config.SystemPrompt) (string, sysprompt.Mode, error) {
	mode, err := sysprompt.ParseMode(c.Mode)
	if err != nil || c.File == "" {
		return "", mode, err
	}
	b, err := os.ReadFile(c.File)
	if err != nil {
		return "", mode, fmt.Errorf("system_prompt.file: %w", err)
	}
	return strings.TrimSpace(string(b)), mode, nil
}

// secrets lists every configured key, so that none is ever logged or echoed.
func secrets(cfg *config.Config) []string {
	out := append([]string(nil), cfg.Server.APIKeys...)
	for _, c := range cfg.Clients {
		out = append(out, c.Key)
	}
	for _, p := range cfg.Providers {
		out = append(out, p.APIKeys...)
	}
	for _, v := range []string{cfg.Admin.Key, cfg.Store.Redis, cfg.Store.DSN} {
		if v != "" && (v != cfg.Store.DSN || strings.Contains(v, "://")) {
			out = append(out, v) // a DSN is secret when it is a URL (it may hold a password)
		}
	}
	if pw := cfg.Cache.Redis.Password; pw != "" {
		out = append(out, pw)
	}
	return out
}

// auth wraps h with client authentication answered in protocol p.
func (s *Server) auth(p wire.Protocol, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if keys := s.current().keys; keys.enabled() || s.tenants != nil {
			key := clientKey(ctx, p)
			if len(key) == 0 {
				s.reject(ctx, p, wire.Authentication, missingKeyMessage)
				return
			}
			c := keys.lookup(key)
			if c == nil {
				c = s.virtualClient(key)
			}
			if c == nil {
				s.reject(ctx, p, wire.Authentication, "invalid API key")
				return
			}
			ctx.SetUserValue(userClient, c)
			if !s.admitVirtual(ctx, p, c) {
				return
			}
		}
		h(ctx)
	}
}

// reject answers an error decided before any provider was involved.
func (s *Server) reject(ctx *fasthttp.RequestCtx, p wire.Protocol, kind wire.Kind, msg string) {
	s.rejectParam(ctx, p, kind, msg, "")
}

// rejectParam is reject naming the request field at fault.
func (s *Server) rejectParam(ctx *fasthttp.RequestCtx, p wire.Protocol, kind wire.Kind, msg, param string) {
	start := time.Now()
	writeError(ctx, p, kind, msg, param)
	s.logDone(ctx, start, 0, p, "", "", false, nil)
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) {
	p := protocolForPath(ctx.Path())
	s.reject(ctx, p, wire.NotFound, "unknown path "+strconv.Quote(string(ctx.Path())))
}

func (s *Server) methodNotAllowed(ctx *fasthttp.RequestCtx) {
	p := protocolForPath(ctx.Path())
	s.reject(ctx, p, wire.MethodNotAllowed, "method "+string(ctx.Method())+" is not allowed on "+string(ctx.Path()))
}

// parseError answers requests fasthttp could not read, in the protocol the
// path suggests: a body over the limit is 413, anything else 400.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	defer s.bodies.release(&ctx.Request.Header)
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		// Also how admission refuses a body it will not read.
		s.refuseBody(ctx)
		return
	}
	p := protocolForPath(ctx.Path())
	var sb *fasthttp.ErrSmallBuffer
	if errors.As(err, &sb) {
		ctx.SetStatusCode(fasthttp.StatusRequestHeaderFieldsTooLarge)
		ctx.SetContentType("application/json")
		ctx.SetBody(wire.AppendError(nil, p, wire.InvalidRequest,
			fmt.Sprintf("request headers exceed %d bytes", s.srv.ReadBufferSize), ""))
		return
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		ctx.SetStatusCode(fasthttp.StatusRequestTimeout)
		ctx.SetContentType("application/json")
		ctx.SetBody(wire.AppendError(nil, p, wire.InvalidRequest, "timed out reading the request", ""))
		return
	}
	writeError(ctx, p, wire.InvalidRequest, "malformed HTTP request: "+err.Error(), "")
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.lnMu.Lock()
	if s.shut {
		s.lnMu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.lnMu.Unlock()
	return s.srv.Serve(s.linger.listener(ln))
}

// closeListeners closes every listener Serve was given. fasthttp's own
// Shutdown closes only those its Serve loop has registered, so a Shutdown
// that overtakes a Serve goroutine would otherwise leave it in Accept.
func (s *Server) closeListeners() {
	s.lnMu.Lock()
	s.shut = true
	lns := s.listeners
	s.listeners = nil
	s.lnMu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// Addr is the configured listen address.
func (s *Server) Addr() string {
	return net.JoinHostPort(s.cfg.Server.Host, strconv.Itoa(s.cfg.Server.Port))
}

// Shutdown stops accepting, then waits for in-flight requests and streams
// until ctx ends. The access log is flushed either way. A second call
// finds nothing left to do.
func (s *Server) Shutdown(ctx context.Context) error {
	sockets := make(chan struct{})
	go func() { s.closeSockets(ctx); close(sockets) }()
	err := s.drain(ctx)
	<-sockets
	s.closeListeners()
	s.linger.stop()
	s.reloadMu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.reloadMu.Unlock()
	s.retiring.Wait()
	for _, up := range s.current().ups {
		up.close()
	}
	if c := s.current().cache; c != nil {
		_ = c.store.Close()
	}
	_ = s.prompts.Close()
	s.tenants.close()
	_ = s.log.Sync()
	return err
}

// OpenConnections reports the client connections being served.
func (s *Server) OpenConnections() int32 { return s.srv.GetOpenConnectionsCount() }

// zapPrinter routes fasthttp's own messages into the log (each is
// provoked by a client: a malformed request, a reset connection), bounded
// like every library's (LibraryLog).
type zapPrinter struct{ *LibraryLog }

func newZapPrinter(l *zap.Logger) zapPrinter { return zapPrinter{NewLibraryLog(l, "fasthttp", nil)} }

func (z zapPrinter) Printf(format string, args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, fasthttp.ErrBodyTooLarge) {
			// A body refused unread (admission.go, refuseBody): the access
			// line already says why; this would only look like a fault.
			return
		}
	}
	z.LibraryLog.Printf(format, args...)
}
