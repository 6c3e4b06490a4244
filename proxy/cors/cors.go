// Package cors lets browser clients call the proxy from other origins: it
// answers CORS preflight requests and marks actual responses as readable by
// an allowed origin.
//
// A request without an Origin header (every non-browser client) passes
// through untouched, so the middleware costs one header lookup for them.
package cors

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// defaultHeaders are always allowed in requests: the credential and version
// headers of every ingress protocol and the ones the official OpenAI and
// Anthropic SDKs add when run in a browser.
var defaultHeaders = [...]string{
	"authorization", "content-type", "x-api-key", "x-goog-api-key", "x-goog-api-client",
	"anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access",
	"openai-organization", "openai-project", "openai-beta", "x-request-id",
	"x-stainless-arch", "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
	"x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-retry-count",
	"x-stainless-timeout", "x-stainless-read-timeout", "x-stainless-helper-method",
}

// exposed are response headers a browser script may read: the request id
// for support, and the rate-limit hints clients back off with.
const exposed = "x-request-id, retry-after, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests"

const allowMethods = "GET, POST, OPTIONS"

// Config selects who may call the proxy from a browser.
type Config struct {
	// Origins allowed, e.g. "https://app.example.com". "*" allows any
	// origin; "https://*.example.com" allows its subdomains. Empty
	// disables CORS.
	Origins []string
	// Headers are allowed request headers on top of the built-in ones
	// (authorization, content-type, x-api-key, x-goog-api-key,
	// anthropic-version, anthropic-beta, openai-* and the x-stainless-*
	// headers of the official SDKs). "*" allows whatever the preflight
	// asks for.
	Headers []string
	// MaxAge lets browsers cache a preflight answer; 0 leaves it to the
	// browser's default (5 s in most).
	MaxAge time.Duration
}

// Policy is a validated Config. It is immutable.
type Policy struct {
	any          bool
	exact        []string
	suffixes     []wildcard
	allowHeaders string
	reflect      bool
	maxAge       string
}

type wildcard struct{ scheme, suffix string }

// New validates cfg.
func New(cfg Config) (*Policy, error) {
	p := &Policy{}
	for _, o := range cfg.Origins {
		o = strings.ToLower(strings.TrimSpace(o))
		switch {
		case o == "*":
			p.any = true
		case o == "":
			return nil, errors.New("cors: empty origin")
		case strings.HasSuffix(o, "/"):
			return nil, fmt.Errorf("cors: origin %q must not end with '/'", o)
		case strings.Contains(o, "://*."):
			scheme, rest, _ := strings.Cut(o, "://*")
			p.suffixes = append(p.suffixes, wildcard{scheme: scheme + "://", suffix: rest})
		case strings.Contains(o, "*"):
			return nil, fmt.Errorf("cors: origin %q: '*' is allowed only alone or as a leading subdomain", o)
		case !strings.Contains(o, "://") && o != "null":
			return nil, fmt.Errorf("cors: origin %q needs a scheme, e.g. https://%s", o, o)
		default:
			p.exact = append(p.exact, o)
		}
	}
	headers := append([]string(nil), defaultHeaders[:]...)
	for _, h := range cfg.Headers {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			p.reflect = true
			continue
		}
		if h != "" && !isToken(h) {
			return nil, fmt.Errorf("cors: bad header name %q", h)
		}
		if h != "" {
			headers = append(headers, h)
		}
	}
	p.allowHeaders = strings.Join(headers, ", ")
	if cfg.MaxAge < 0 {
		return nil, fmt.Errorf("cors: negative max age %v", cfg.MaxAge)
	}
	if cfg.MaxAge > 0 {
		p.maxAge = strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10)
	}
	return p, nil
}

// Enabled reports whether any origin is allowed.
func (p *Policy) Enabled() bool {
	return p != nil && (p.any || len(p.exact) > 0 || len(p.suffixes) > 0)
}

// Wrap returns next with CORS handling in front; next itself when CORS is
// disabled.
func (p *Policy) Wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if !p.Enabled() {
		return next
	}
	return func(ctx *fasthttp.RequestCtx) {
		origin := ctx.Request.Header.Peek("Origin")
		if len(origin) == 0 {
			next(ctx)
			return
		}
		allowed := p.allows(b2s(origin))
		if ctx.IsOptions() && len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0 {
			p.preflight(ctx, origin, allowed)
			return
		}
		next(ctx)
		// Headers are set after next: fasthttp sends them only once the
		// handler returns (streams included), and a handler resetting the
		// response cannot drop them.
		h := &ctx.Response.Header
		if !p.any {
			h.Add("Vary", "Origin")
		}
		if allowed {
			p.setAllowOrigin(h, origin)
			h.Set("Access-Control-Expose-Headers", exposed)
		}
	}
}

// Allows reports whether a page of origin may use the API: the WebSocket
// route asks, since browsers send no preflight before opening a socket.
func (p *Policy) Allows(origin []byte) bool { return p.Enabled() && p.allows(b2s(origin)) }

func (p *Policy) preflight(ctx *fasthttp.RequestCtx, origin []byte, allowed bool) {
	h := &ctx.Response.Header
	if !p.any {
		h.Add("Vary", "Origin")
	}
	if !allowed {
		// No CORS headers: the browser fails the preflight and never sends
		// the real request.
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	p.setAllowOrigin(h, origin)
	h.Set("Access-Control-Allow-Methods", allowMethods)
	if req := ctx.Request.Header.Peek("Access-Control-Request-Headers"); p.reflect && len(req) > 0 && isHeaderList(req) {
		h.Add("Vary", "Access-Control-Request-Headers")
		h.SetBytesV("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", p.allowHeaders)
	}
	if p.maxAge != "" {
		h.Set("Access-Control-Max-Age", p.maxAge)
	}
}

func (p *Policy) setAllowOrigin(h *fasthttp.ResponseHeader, origin []byte) {
	if p.any {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.SetBytesV("Access-Control-Allow-Origin", origin)
}

// allows matches case-insensitively: browsers send scheme and host in lower
// case, but config may not.
func (p *Policy) allows(origin string) bool {
	if p.any {
		return true
	}
	for _, o := range p.exact {
		if strings.EqualFold(origin, o) {
			return true
		}
	}
	for _, w := range p.suffixes {
		if len(origin) > len(w.scheme)+len(w.suffix) &&
			strings.EqualFold(origin[:len(w.scheme)], w.scheme) &&
			strings.EqualFold(origin[len(origin)-len(w.suffix):], w.suffix) {
			host := origin[len(w.scheme) : len(origin)-len(w.suffix)]
			if !strings.ContainsAny(host, "/:@") {
				return true
			}
		}
	}
	return false
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return len(s) > 0
}

// isHeaderList accepts "a, b,c": reflecting anything else would let a
// request smuggle bytes into our response headers.
func isHeaderList(b []byte) bool {
	for _, c := range b {
		if !(c == ',' || c == ' ' || c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
