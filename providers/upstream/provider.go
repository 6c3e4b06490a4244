package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// tlsSessions is how many TLS sessions a provider keeps for resumption:
// one upstream host has one ServerName, so a few suffice.
const tlsSessions = 8

// UserAgent is what the proxy calls itself upstream unless a provider's
// configuration names a client.
const UserAgent = "llmproxy"

// Config describes one HTTP upstream.
type Config struct {
	Name     string
	Protocol wire.Protocol
	// BaseURL includes the API version path, e.g. https://api.openai.com/v1.
	BaseURL string
	Keys    []string
	Models  []string
	// MaxConns bounds the pool; requests beyond it wait up to PoolWait.
	MaxConns int
	PoolWait time.Duration
	// ConnectTimeout bounds dialing (and the TLS handshake).
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the answer's first byte.
	FirstByteTimeout time.Duration
	// IdleTimeout bounds the silence between reads once an answer flows.
	IdleTimeout time.Duration
	// MaxErrorBody bounds how much of an error body is read from a stream.
	MaxErrorBody int
	// MaxResponseBytes bounds a whole (non-stream) answer; a larger one
	// fails as a bad gateway instead of being buffered (default 32 MiB).
	MaxResponseBytes int
	// MaxHeaderBytes is the connection's read buffer: it bounds the
	// answer's header block and is held by every open stream (default 4096;
	// an OpenAI answer with its Cloudflare cookies and rate-limit headers
	// carries about 1.5 KB).
	MaxHeaderBytes int
	// MaxResponseTime bounds reading a whole answer, from sending the
	// request: an upstream that trickles bytes forever is cut (default 15 min).
	MaxResponseTime time.Duration
	// AnthropicVersion is sent as anthropic-version when the client sent none.
	AnthropicVersion string
	// Headers are the operator's extra headers (name, value), sent on
	// every request; validated by the config.
	Headers [][2]string
	// ForwardHeaders names client headers the operator lets through as
	// they are (validated by the config).
	ForwardHeaders []string
	// Route, when set, builds the path (after the base path) and query of
	// a call, and the key goes as a Bearer token: for APIs that speak a
	// protocol at other addresses (Google Code Assist's v1internal).
	Route func(c *providers.Call) (path, query string)
}

// Provider forwards calls to one HTTP upstream.
type Provider struct {
	cfg    Config
	client *fasthttp.HostClient
	scheme string
	host   string
	// basePath is BaseURL's path without a trailing slash.
	basePath string
	keys     []string
	next     atomic.Uint32
}

// New builds the provider and its connection pool.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %s: base_url: %w", cfg.Name, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("provider %s: base_url %q: scheme must be http or https", cfg.Name, cfg.BaseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("provider %s: base_url %q has no host", cfg.Name, cfg.BaseURL)
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	if cfg.MaxErrorBody <= 0 {
		cfg.MaxErrorBody = 64 << 10
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 32 << 20
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 4096
	}
	if cfg.MaxResponseTime <= 0 {
		cfg.MaxResponseTime = 15 * time.Minute
	}
	if cfg.AnthropicVersion == "" {
		cfg.AnthropicVersion = "2023-06-01"
	}
	p := &Provider{
		cfg:      cfg,
		scheme:   u.Scheme,
		host:     u.Host,
		basePath: apiPath(cfg.Protocol, u.Path),
		keys:     cfg.Keys,
	}
	if cfg.Route != nil {
		// The routed API names its own paths: the base is taken as given.
		p.basePath = strings.TrimRight(u.Path, "/")
	}
	connect := cfg.ConnectTimeout
	if connect <= 0 {
		connect = 10 * time.Second
	}
	tlsConfig := &tls.Config{
		ServerName: u.Hostname(),
		MinVersion: tls.VersionTLS12,
		// A new connection to the same upstream resumes the TLS session
		// (as nginx's proxy_ssl_session_reuse does by default): no
		// certificate chain to send and verify again when the pool grows.
		ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessions),
	}
	d := &dialer{
		tcp:       &fasthttp.TCPDialer{Concurrency: 0, DNSCacheDuration: time.Minute},
		connect:   connect,
		firstByte: cfg.FirstByteTimeout,
		idle:      cfg.IdleTimeout,
	}
	if u.Scheme == "https" {
		d.tls = tlsConfig
	}
	p.client = &fasthttp.HostClient{
		Addr:               addr,
		Name:               UserAgent,
		IsTLS:              u.Scheme == "https",
		TLSConfig:          tlsConfig,
		Dial:               d.Dial,
		MaxConns:           cfg.MaxConns,
		MaxConnWaitTimeout: cfg.PoolWait,
		// Upstreams close idle keep-alive connections on their own schedule;
		// dropping ours first avoids most write-on-closed races.
		MaxIdleConnDuration:           30 * time.Second,
		ReadBufferSize:                cfg.MaxHeaderBytes,
		MaxResponseBodySize:           cfg.MaxResponseBytes,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		// A POST is retried only when the upstream closed a pooled
		// connection before answering a single byte: the keep-alive race.
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && (errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed))
		},
	}
	return p, nil
}

// apiPath is the path under which the protocol's endpoints live. A base URL
// with no path is taken in the SDKs' convention (ANTHROPIC_BASE_URL and
// Google's base URL name only the host) and gets the API version; a base URL
// with a path (https://api.openai.com/v1, https://example.com/openai/v1) is
// used as it is.
func apiPath(p wire.Protocol, path string) string {
	path = strings.TrimSuffix(path, "/")
	if path != "" {
		return path
	}
	if p == wire.Gemini {
		return "/v1beta"
	}
	return "/v1"
}

func (p *Provider) Name() string            { return p.cfg.Name }
func (p *Provider) Protocol() wire.Protocol { return p.cfg.Protocol }
func (p *Provider) Models() []string        { return p.cfg.Models }

// State reports the pool's use.
func (p *Provider) State() providers.State {
	return providers.State{
		Status:    "up",
		ConnsOpen: p.client.ConnsCount(),
		Pending:   p.client.PendingRequests(),
		Keys:      len(p.keys),
	}
}

// Close drops idle pooled connections.
func (p *Provider) Close() { p.client.CloseIdleConnections() }

// nextKey picks the next key round-robin.
func (p *Provider) nextKey() string {
	if len(p.keys) == 0 {
		return ""
	}
	i := p.next.Add(1)
	return p.keys[int(i)%len(p.keys)]
}

// Do sends the call upstream and returns once the answer's headers (and, for
// non-stream answers, its body) have arrived.
func (p *Provider) Do(c *providers.Call) (*providers.Result, error) {
	if p.cfg.Protocol == wire.Gemini {
		// The model goes into the URL, sent with the operator's key: a
		// name that is not one model resource must never get there.
		if _, ok := wire.GeminiModelPath(c.Model); !ok {
			return nil, &providers.Error{Kind: wire.InvalidRequest, Err: fmt.Errorf("model %q cannot be sent to a Gemini upstream", c.Model)}
		}
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	p.buildRequest(req, c)
	resp.StreamBody = c.Stream
	var err error
	if c.Stream {
		err = p.client.Do(req, resp)
	} else {
		err = p.client.DoTimeout(req, resp, p.cfg.MaxResponseTime)
	}
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		var small *fasthttp.ErrSmallBuffer
		if errors.As(err, &small) {
			err = fmt.Errorf("the answer's headers exceed max_response_header_bytes (%d): %w", p.cfg.MaxHeaderBytes, err)
		}
		return nil, &providers.Error{Kind: classify(err), Err: fmt.Errorf("upstream %s: %w", p.cfg.Name, err)}
	}
	a := &answer{resp: resp}
	res := &a.res
	res.Init(a)
	res.Status = resp.StatusCode()
	res.ContentType = resp.Header.ContentType()
	res.RetryAfter = resp.Header.Peek(fasthttp.HeaderRetryAfter)
	if !c.Stream {
		res.Body = resp.Body()
		return res, nil
	}
	body := resp.BodyStream()
	if res.Status != fasthttp.StatusOK || body == nil {
		// An error answer to a stream request is read whole, within a bound,
		// so it can be re-shaped for the client.
		if body != nil {
			b, rerr := io.ReadAll(io.LimitReader(body, int64(p.cfg.MaxErrorBody)))
			_ = resp.CloseBodyStream()
			if rerr != nil && len(b) == 0 {
				res.Release()
				return nil, &providers.Error{Kind: classify(rerr), Err: fmt.Errorf("upstream %s: reading error body: %w", p.cfg.Name, rerr)}
			}
			res.Body = b
		} else {
			res.Body = resp.Body()
		}
		return res, nil
	}
	rc, ok := body.(fasthttp.ReadCloserWithError)
	if !ok {
		rc = &readCloser{Reader: body, resp: resp}
	}
	res.Stream = rc
	res.StreamLength = int64(resp.Header.ContentLength())
	return res, nil
}

// answer is a Result together with the pooled response it reads from,
// which its Release returns: one allocation per upstream answer.
type answer struct {
	res  providers.Result
	resp *fasthttp.Response
}

// Release returns the response to fasthttp's pool.
func (a *answer) Release() { fasthttp.ReleaseResponse(a.resp) }

// readCloser closes a body stream that lacks CloseWithError.
type readCloser struct {
	io.Reader
	resp *fasthttp.Response
}

func (r *readCloser) CloseWithError(error) error { return r.resp.CloseBodyStream() }

// classify maps a transport error to what the client is told.
func classify(err error) wire.Kind {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return wire.Timeout
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return wire.Unavailable
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return wire.BadGateway
	}
	return wire.BadGateway
}

// PoolStats reports requests using an upstream connection and requests
// waiting for one (those beyond the pool's bound), for metrics.
func (p *Provider) PoolStats() (inUse, waiting int) {
	pending := p.client.PendingRequests()
	if limit := p.cfg.MaxConns; limit > 0 && pending > limit {
		return limit, pending - limit
	}
	return pending, 0
}
