package upstream

import (
	"bytes"

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
		copyEndToEnd(&req.Header, c.Header)
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
	switch p.cfg.Protocol {
	case wire.OpenAIChat:
		b = append(b, "/chat/completions"...)
		setBearer(req, key)
	case wire.OpenAIResponses:
		b = append(b, "/responses"...)
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
		b = append(b, "/models/"...)
		b = append(b, c.Model...)
		switch {
		case c.Op == providers.OpCountTokens:
			b = append(b, ":countTokens"...)
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
	uri.SetPathBytes(b)
	req.SetBodyRaw(c.Body)
}

func setBearer(req *fasthttp.Request, key string) {
	if key == "" {
		return
	}
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+key)
}

// copyEndToEnd copies the client's headers that belong to the request
// itself, dropping hop-by-hop headers (the fixed list and those the client's
// Connection header names), anything that names the client's credentials or
// this proxy's routing, and those the proxy sets itself.
func copyEndToEnd(dst, src *fasthttp.RequestHeader) {
	conn := src.Peek(fasthttp.HeaderConnection)
	for k, v := range src.All() {
		if dropHeader(k) || listedIn(conn, k) {
			continue
		}
		dst.AddBytesKV(k, v)
	}
}

// listedIn reports whether header name k is one of the comma-separated
// tokens of a Connection header value: such headers are hop-by-hop too
// (RFC 9110, section 7.6.1).
func listedIn(conn, k []byte) bool {
	for len(conn) > 0 {
		tok := conn
		if i := bytes.IndexByte(conn, ','); i >= 0 {
			tok, conn = conn[:i], conn[i+1:]
		} else {
			conn = nil
		}
		if bytes.EqualFold(bytes.TrimSpace(tok), k) {
			return true
		}
	}
	return false
}

// dropHeader reports whether a client header must not reach the upstream.
// Names arrive normalised (Canonical-Case) from fasthttp.
func dropHeader(k []byte) bool {
	switch string(k) {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Host", "Content-Length", "Content-Type", "Accept-Encoding", "Accept",
		"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Cookie",
		"Model-Provider", "X-Request-Id", "Expect":
		return true
	}
	return false
}
