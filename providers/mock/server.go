package mock

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// ServerOptions configures the standalone mock upstream.
type ServerOptions struct {
	Behaviour
	// Models are listed by GET /v1/models; any model name is answered.
	Models []string
	// ErrorRate is the fraction of chat requests answered with ErrorStatus.
	ErrorRate   float64
	ErrorStatus int
	// OnRequest, if set, sees every POST's path and body before it is
	// answered, so that tests can check what reached the upstream. body is
	// only valid during the call; it may be called concurrently.
	OnRequest func(path string, body []byte)
}

// Server is the standalone mock upstream (`proxy mock-upstream`).
type Server struct {
	opts     ServerOptions
	srv      *fasthttp.Server
	parsers  fastjson.ParserPool
	requests atomic.Int64
}

// NewServer returns a mock upstream server with the given options.
func NewServer(o ServerOptions) *Server {
	if len(o.Models) == 0 {
		o.Models = []string{"mock-gpt"}
	}
	if o.ErrorStatus == 0 {
		o.ErrorStatus = 500
	}
	s := &Server{opts: o}
	s.srv = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "mock-upstream",
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		ReadTimeout:                   30 * time.Second,
		IdleTimeout:                   60 * time.Second,
		MaxRequestBodySize:            64 << 20,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
	}
	return s
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops the server, waiting for open requests up to ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// Requests counts generation requests received, of every protocol.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Handler returns the server's request handler, for in-memory listeners.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if s.opts.OnRequest != nil && ctx.IsPost() {
		s.opts.OnRequest(string(path), ctx.PostBody())
	}
	switch {
	case string(path) == "/v1/models" && ctx.IsGet():
		ctx.SetContentType("application/json")
		if len(ctx.Request.Header.Peek("anthropic-version")) > 0 {
			ctx.Response.SetBodyRaw(AppendAnthropicModels(nil, s.opts.Models))
			return
		}
		ctx.Response.SetBodyRaw(AppendModels(nil, "mock", s.opts.Models))
	case string(path) == "/v1/chat/completions" && ctx.IsPost():
		s.chat(ctx)
	case string(path) == "/v1beta/models" && ctx.IsGet():
		if s.geminiKey(ctx) {
			ctx.SetContentType("application/json")
			ctx.Response.SetBodyRaw(AppendGeminiModels(nil, s.opts.Models))
		}
	case ctx.IsPost() && s.route(ctx, path):
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":{"message":"mock upstream: unknown path","type":"invalid_request_error","param":null,"code":"not_found"}}`)
	}
}

func (s *Server) chat(ctx *fasthttp.RequestCtx) {
	s.requests.Add(1)
	b := s.behaviour(ctx)
	ctx.SetContentType("application/json")
	if injected(b) {
		ctx.SetStatusCode(b.Status)
		ctx.Response.SetBodyRaw(AppendErrorBody(nil, b.Status))
		return
	}
	p := s.parsers.Get()
	parsed, err := ParseChat(p, ctx.PostBody())
	s.parsers.Put(p)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":{"message":"mock upstream: malformed JSON body","type":"invalid_request_error","param":null,"code":null}}`)
		return
	}
	a := b.Answer(parsed)
	if !parsed.Stream {
		ctx.Response.SetBodyRaw(a.AppendCompletion(nil))
		return
	}
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		var buf []byte
		limit := a.Events()
		for i := 0; i < limit; i++ {
			if a.TruncateAfter > 0 && i > a.TruncateAfter {
				break
			}
			if a.Delay > 0 && i > 0 {
				time.Sleep(a.Delay)
			}
			buf, _ = a.AppendEvent(buf[:0], i)
			if _, err := w.Write(buf); err != nil {
				return
			}
			// A generating model sends each token as it comes; a fast one
			// lets the events leave together.
			if a.Delay > 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
		_ = w.Flush()
	})
}
