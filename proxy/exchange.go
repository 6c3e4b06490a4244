package proxy

import (
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// exchange is one client request on its way through the proxy.
type exchange struct {
	ctx   *fasthttp.RequestCtx
	in    wire.Protocol
	start time.Time
	// upstream accumulates the time spent waiting on providers.
	upstream time.Duration
	stream   bool
	// includeUsage: an OpenAI chat client asked for the usage chunk.
	includeUsage bool
	framing      convert.Framing
	op           providers.Op
	route        routed
	// snap is the configuration snapshot the request started with, used
	// to its end (a reload does not change a request in flight).
	snap *snapshot
	// requested is the model the client asked for, kept for the access
	// line of a request that was refused before routing settled it.
	requested string
	// prompted: the body went to the prompt log.
	prompted bool
	// tools maps the names a conversion gave a Responses client's
	// namespace and custom tools back to the client's; nil when none.
	tools *convert.ToolMap
	// cache is what the response cache does with the exchange.
	cache cacheState
}

// log records the exchange once it was answered in the handler.
func (x *exchange) provider() string {
	if x.route.provider == nil {
		return ""
	}
	return x.route.provider.Name()
}

// fail answers the exchange with an error in the client's protocol.
func (s *Server) fail(x *exchange, kind wire.Kind, msg, param string, err error) {
	writeError(x.ctx, x.in, kind, msg, param)
	model := x.route.model
	if model == "" {
		model = x.requested
	}
	if !x.prompted {
		// A refused request's body is what its operator needs to see.
		s.prompts.Log(b2s(x.ctx.Response.Header.Peek("X-Request-Id")), x.in.String(), model, x.ctx.PostBody())
	}
	s.logDone(x.ctx, x.start, x.upstream, x.in, x.provider(), model, x.stream, err)
}

// pooledBodyMax is the largest body whose parser goes back to its pool: a
// fastjson parser keeps the value cache its largest input needed, and a
// pool of parsers that once read a 10 MB body would hold that memory for
// good.
const pooledBodyMax = 1 << 20

// putParser returns a parser to the pool unless it parsed a large body.
func (s *Server) putParser(p *fastjson.Parser, bodyLen int) {
	if bodyLen <= pooledBodyMax {
		s.parsers.Put(p)
	}
}
