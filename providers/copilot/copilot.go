// Package copilot is the provider for GitHub Copilot subscriptions: a
// GitHub token (from `proxy login copilot`, GitHub's device sign-in, or
// configured) is traded for a short-lived Copilot token at GitHub's token
// endpoint, and requests go to the Copilot API, which speaks OpenAI's chat
// completions. Every ingress protocol reaches it through the usual
// conversion to OpenAI chat.
//
// The Copilot token is kept per account and traded again before it
// expires (at the refresh_in the answer gives), once at a time per account
// however many requests wait for it; a request the API refuses with 401
// trades it again once. The API's base is the one the token answer names
// (endpoints.api: individual, business and enterprise plans are served
// from different hosts), else base_url. A GitHub token GitHub refuses
// marks the account unusable with the reason, and the pool serves from the
// others. A quota answer (402 quota_exceeded) cools the account down until
// its monthly reset, known from the quota view.
package copilot

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
)

// Defaults, all overridable in config: GitHub's endpoints and the
// identification VS Code's Copilot Chat extension sends.
const (
	DefaultBaseURL  = "https://api.githubcopilot.com"
	DefaultTokenURL = "https://api.github.com/copilot_internal/v2/token"
	DefaultUserURL  = "https://api.github.com/copilot_internal/user"
)

// DefaultHeaders identify the client as the official editor extension
// does; a provider's headers setting overrides any of them.
var DefaultHeaders = [][2]string{
	{"Copilot-Integration-Id", "vscode-chat"},
	{"Editor-Version", "vscode/1.110.0"},
	{"Editor-Plugin-Version", "copilot-chat/0.38.0"},
	{"User-Agent", "GitHubCopilotChat/0.38.0"},
	{"Openai-Intent", "conversation-panel"},
	{"X-Github-Api-Version", "2025-04-01"},
}

// Config describes one copilot provider.
type Config struct {
	// HTTP is the API connection (Name, BaseURL: the API when the token
	// answer names none, timeouts, the operator's headers); its keys are
	// the accounts' pool keys.
	HTTP upstream.Config
	// Accounts by pool key; their access token is a GitHub token.
	Accounts map[string]*accounts.Account
	// TokenURL trades a GitHub token for a Copilot token; UserURL reports
	// the account's plan and quotas.
	TokenURL, UserURL string
	// Client makes the token, model and quota calls (default: 15 s timeout).
	Client *http.Client
	// WarmEvery is how often tokens near their refresh are traded again
	// and the model list renewed in the background (1 min).
	WarmEvery time.Duration
	// QuotaEvery is how often quotas are asked for (0: never).
	QuotaEvery time.Duration
	Now        func() time.Time
}

// Provider sends calls to the Copilot API on the leased account.
type Provider struct {
	cfg      Config
	headers  [][2]string // DefaultHeaders under the operator's
	accts    *accounts.Set
	sessions map[string]*session // pool key → its Copilot token

	mu     sync.Mutex
	inners map[string]*upstream.Provider // API base → connection pool

	models     atomic.Pointer[[]string]
	modelsAt   atomic.Int64   // unix seconds of the last model list
	bg         sync.WaitGroup // quota asks started by answers
	stopWarm   chan struct{}
	warmDone   chan struct{}
	closeOnce  sync.Once
	configured []string
}

// New builds the provider and starts its background work: tokens traded
// before they expire, the model list, the quotas.
func New(cfg Config) (*Provider, error) {
	if cfg.HTTP.BaseURL == "" {
		cfg.HTTP.BaseURL = DefaultBaseURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if cfg.UserURL == "" {
		cfg.UserURL = DefaultUserURL
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.WarmEvery <= 0 {
		cfg.WarmEvery = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.HTTP.Protocol = wire.OpenAIChat
	cfg.HTTP.Headers = withDefaults(cfg.HTTP.Headers)
	inner, err := upstream.New(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, headers: cfg.HTTP.Headers, accts: accounts.NewSet(cfg.Accounts),
		sessions: map[string]*session{}, inners: map[string]*upstream.Provider{normBase(cfg.HTTP.BaseURL): inner},
		stopWarm: make(chan struct{}), warmDone: make(chan struct{}), configured: cfg.HTTP.Models}
	for k := range cfg.Accounts {
		p.sessions[k] = &session{}
	}
	p.models.Store(&p.configured)
	p.accts.WatchQuota(p, cfg.QuotaEvery)
	go p.warmLoop()
	return p, nil
}

// withDefaults puts DefaultHeaders under the operator's own.
func withDefaults(op [][2]string) [][2]string {
	out := append([][2]string(nil), op...)
	for _, d := range DefaultHeaders {
		set := false
		for _, h := range op {
			if strings.EqualFold(h[0], d[0]) {
				set = true
			}
		}
		if !set {
			out = append(out, d)
		}
	}
	return out
}

func normBase(u string) string { return strings.TrimRight(u, "/") }

func (p *Provider) Name() string            { return p.cfg.HTTP.Name }
func (p *Provider) Protocol() wire.Protocol { return wire.OpenAIChat }

// Models is the configured list and, when it has "*", the models the
// service listed (for the proxy's model listings).
func (p *Provider) Models() []string { return *p.models.Load() }

// LiveModels reports whether Models changes after start (it lists the
// service's models when the configured list has "*").
func (p *Provider) LiveModels() bool { return slices.Contains(p.configured, "*") }

// State reports the API connection pools (every host the accounts use)
// and how many accounts can serve.
func (p *Provider) State() providers.State {
	st := p.inner(p.cfg.HTTP.BaseURL).State()
	p.mu.Lock()
	for base, in := range p.inners {
		if base != normBase(p.cfg.HTTP.BaseURL) {
			o := in.State()
			st.ConnsOpen += o.ConnsOpen
			st.Pending += o.Pending
		}
	}
	p.mu.Unlock()
	return p.accts.Serving(st)
}

// Accounts lists the accounts' states and quotas (never their tokens).
func (p *Provider) Accounts() []accounts.Status { return p.accts.Statuses() }

// AccountList is the provider's accounts (an on-demand quota check).
func (p *Provider) AccountList() []*accounts.Account { return p.accts.List() }

// Close stops the background work and drops the idle connections.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		close(p.stopWarm)
		<-p.warmDone
		p.bg.Wait()
		p.accts.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, in := range p.inners {
			in.Close()
		}
	})
}

// maxBases bounds the API hosts kept: token answers name one per plan.
const maxBases = 8

// inner is the connection pool of an API base (the token answer's, or
// base_url's).
func (p *Provider) inner(base string) *upstream.Provider {
	base = normBase(base)
	p.mu.Lock()
	defer p.mu.Unlock()
	if in, ok := p.inners[base]; ok {
		return in
	}
	def := p.inners[normBase(p.cfg.HTTP.BaseURL)]
	if len(p.inners) >= maxBases {
		return def
	}
	hc := p.cfg.HTTP
	hc.BaseURL = base
	in, err := upstream.New(hc)
	if err != nil {
		return def
	}
	p.inners[base] = in
	return in
}

// Do sends the call on the account c.Key names.
func (p *Provider) Do(c *providers.Call) (*providers.Result, error) {
	acct := p.accts.Lookup(c.Key)
	s := p.sessions[c.Key]
	if acct == nil || s == nil {
		return nil, &providers.Error{Kind: wire.Internal, Err: fmt.Errorf("copilot %s: no account for the leased key", p.Name())}
	}
	if c.Op != providers.OpGenerate {
		return refusal(404, "the Copilot API serves chat completions only"), nil
	}
	tok, res := p.copilotToken(acct, s, "")
	if res != nil {
		return res, nil
	}
	call := *c
	call.Extra = append(call.Extra[:0:0], c.Extra...)
	if bytes.Contains(c.Body, []byte(`"image_url"`)) {
		// The API refuses images unless the request says it carries some.
		call.Extra = append(call.Extra, [2]string{"Copilot-Vision-Request", "true"})
	}
	call.Key = tok.token
	out, err := p.inner(tok.api).Do(&call)
	if err == nil && out.Status == 401 {
		// The Copilot token was refused (expired or revoked early): trade
		// the GitHub token again, once, and resend on the same account.
		out.Release()
		if tok, res = p.copilotToken(acct, s, tok.token); res != nil {
			return res, nil
		}
		call.Key = tok.token
		out, err = p.inner(tok.api).Do(&call)
	}
	if err != nil {
		return nil, err
	}
	if out.Status == 402 {
		p.quotaAnswer(acct, s, out)
	}
	return out, nil
}

// quotaAnswer turns the API's out-of-quota answer (402
// {"error":{"code":"quota_exceeded"}}) into a 429 whose Retry-After is the
// account's quota reset (as the quota view last saw it), so the pool rests
// the account until then and serves from the others.
//
// A plain 429 (a rate limit) is left as it is: its own Retry-After, or the
// pool's short backoff, not the month's end.
func (p *Provider) quotaAnswer(acct *accounts.Account, s *session, out *providers.Result) {
	if !bytes.Contains(out.Body, []byte("quota_exceeded")) {
		return
	}
	defer p.askQuotaSoon(acct, s)
	out.Status = 429
	if len(out.RetryAfter) > 0 {
		return
	}
	var reset time.Time
	for _, q := range acct.Quotas() {
		if q.Exhausted() && q.ResetAt.After(reset) {
			reset = q.ResetAt
		}
	}
	if d := reset.Sub(p.cfg.Now()); d > 0 {
		out.RetryAfter = strconv.AppendInt(nil, int64(d/time.Second)+1, 10)
	}
}

// askQuotaSoon asks, in the background, for the quota of an account the
// API just said is out of it, when the view does not know its reset yet
// (at most once a minute per account): the pool's next rest for it can
// then last until the reset.
func (p *Provider) askQuotaSoon(acct *accounts.Account, s *session) {
	for _, q := range acct.Quotas() {
		if q.Exhausted() && !q.ResetAt.IsZero() {
			return
		}
	}
	now := p.cfg.Now()
	s.mu.Lock()
	due := now.Sub(s.quotaAsked) >= time.Minute
	if due {
		s.quotaAsked = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		q, err := p.FetchQuota(acct)
		acct.SetQuota(q, err, p.cfg.Now())
	}()
}

// accountRefused answers for an account that cannot be used: a 401 the
// pool treats as a rejected credential, so requests go to the others.
func accountRefused(err error) *providers.Result {
	return providers.ErrorResult(wire.OpenAIChat, 401, wire.Authentication, "invalid_api_key: "+err.Error())
}

func refusal(status int, msg string) *providers.Result {
	return providers.ErrorResult(wire.OpenAIChat, status, wire.KindForStatus(status), msg)
}
