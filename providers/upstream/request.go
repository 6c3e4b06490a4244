package upstream

import (
	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// buildRequest writes the upstream request: URL and authentication of the
// upstream's protocol, the client's end-to-end headers, and the body.
func (p *Provider) buildRequest(req *fasthttp.Request, c *providers.Call) {
	req.Header.SetMethod(fasthttp.MethodPost)
	uri := req.URI()
	uri.SetScheme(p.scheme)
	uri.SetHost(p.host)
	if c.Header != nil {
		forwardClientHeaders(&req.Header, c.Header, c.Ingress, p.cfg.Protocol)
		for _, name := range p.cfg.ForwardHeaders {
			for _, v := range c.Header.PeekAll(name) {
				req.Header.AddBytesV(name, v)
			}
		}
	}
	for _, h := range p.cfg.Headers {
		req.Header.Set(h[0], h[1])
	}
	req.Header.SetHost(p.host)
	req.Header.SetContentType("application/json")
	if c.Stream {
		req.Header.Set(fasthttp.HeaderAccept, "text/event-stream")
	}
	if c.RequestID != "" {
		req.Header.Set("X-Request-Id", c.RequestID)
	}
	key := c.Key
	if key == "" {
		key = p.nextKey()
	}
	var scratch [256]byte
	b := scratch[:0]
	b = append(b, p.basePath...)
	if p.cfg.Route != nil {
		path, query := p.cfg.Route(c)
		b = append(b, path...)
		if query != "" {
			uri.SetQueryString(query)
		}
		setBearer(req, key)
		p.finishRequest(req, uri, b, c)
		return
	}
	switch p.cfg.Protocol {
	case wire.OpenAIChat, wire.OpenAIResponses:
		b = append(b, openAIPath(p.cfg.Protocol, c.Op)...)
		setBearer(req, key)
	case wire.Anthropic:
		b = append(b, "/messages"...)
		if c.Op == providers.OpCountTokens {
			b = append(b, "/count_tokens"...)
		}
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		if len(req.Header.Peek("anthropic-version")) == 0 {
			req.Header.Set("anthropic-version", p.cfg.AnthropicVersion)
		}
	case wire.Gemini:
		// Do refused a model that is not one model resource.
		path, _ := wire.GeminiModelPath(c.Model)
		b = append(b, '/')
		b = append(b, path...)
		switch {
		case c.Op == providers.OpCountTokens:
			b = append(b, ":countTokens"...)
		case c.Op == providers.OpEmbed:
			b = append(b, ":batchEmbedContents"...)
		case c.Stream:
			b = append(b, ":streamGenerateContent"...)
			uri.SetQueryString("alt=sse")
		default:
			b = append(b, ":generateContent"...)
		}
		if key != "" {
			req.Header.Set("x-goog-api-key", key)
		}
	}
	p.finishRequest(req, uri, b, c)
}

// finishRequest adds the call's own headers, the path and the body.
func (p *Provider) finishRequest(req *fasthttp.Request, uri *fasthttp.URI, path []byte, c *providers.Call) {
	for _, h := range c.Extra {
		req.Header.Set(h[0], h[1])
	}
	// The path is built from checked parts; fasthttp must not resolve
	// anything in it.
	uri.DisablePathNormalizing = true
	uri.SetPathBytes(path)
	req.SetBodyRaw(c.Body)
}

// openAIPath is the endpoint of op on an OpenAI-family upstream: both
// provider types share the API's base, so embeddings and completions go
// to the same place whichever type the operator chose.
func openAIPath(proto wire.Protocol, op providers.Op) string {
	switch op {
	case providers.OpEmbed:
		return "/embeddings"
	case providers.OpComplete:
		return "/completions"
	}
	if proto == wire.OpenAIResponses {
		if op == providers.OpCountTokens {
			return "/responses/input_tokens"
		}
		return "/responses"
	}
	return "/chat/completions"
}

func setBearer(req *fasthttp.Request, key string) {
	if key == "" {
		return
	}
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+key)
}

// forwardClientHeaders copies the few client headers an upstream may see:
// the protocol's version and beta headers, and only when the client speaks
// the upstream's own protocol family (an Anthropic beta means nothing to
// OpenAI). Everything else a client sends stays here: scoping headers
// (OpenAI-Organization, OpenAI-Project, X-Goog-User-Project), browser
// headers (Origin, Referer, Cookie) and routing headers could make a shared
// key answer 401 or reach another account, and the operator sets those per
// provider instead (headers: in the config).
func forwardClientHeaders(dst, src *fasthttp.RequestHeader, ingress, upstream wire.Protocol) {
	if family(ingress) != family(upstream) {
		return
	}
	for _, name := range familyHeaders(upstream) {
		for _, v := range src.PeekAll(name) {
			dst.AddBytesV(name, v)
		}
	}
}

// family groups protocols whose headers mean the same thing.
func family(p wire.Protocol) wire.Protocol {
	if p == wire.OpenAIResponses {
		return wire.OpenAIChat
	}
	return p
}

var (
	openAIHeaders    = []string{"OpenAI-Beta"}
	anthropicHeaders = []string{"anthropic-version", "anthropic-beta"}
)

// familyHeaders lists the client headers forwarded within a protocol family.
func familyHeaders(p wire.Protocol) []string {
	switch family(p) {
	case wire.OpenAIChat:
		return openAIHeaders
	case wire.Anthropic:
		return anthropicHeaders
	}
	return nil
}
