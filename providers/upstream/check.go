package upstream

import (
	"fmt"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// CheckKey asks the upstream's model listing with key, a cheap request that
// every supported protocol authenticates like a generation: it tells a
// revoked key (401/403) from a working one without spending tokens. It
// returns the HTTP status, or an error when no answer came within timeout.
func (p *Provider) CheckKey(key string, timeout time.Duration) (int, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodGet)
	uri := req.URI()
	uri.SetScheme(p.scheme)
	uri.SetHost(p.host)
	uri.SetPath(p.basePath + "/models")
	req.Header.SetHost(p.host)
	switch p.cfg.Protocol {
	case wire.Anthropic:
		req.Header.Set("x-api-key", key)
		req.Header.Set("anthropic-version", p.cfg.AnthropicVersion)
	case wire.Gemini:
		req.Header.Set("x-goog-api-key", key)
	default:
		setBearer(req, key)
	}
	if err := p.client.DoTimeout(req, resp, timeout); err != nil {
		return 0, fmt.Errorf("upstream %s: key check: %w", p.cfg.Name, err)
	}
	return resp.StatusCode(), nil
}
