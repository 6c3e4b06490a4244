// Package codeassist is the provider for Google sign-in accounts of Gemini
// CLI: Google's Code Assist API (v1internal), which serves Gemini models to
// organisation accounts (Code Assist Standard and Enterprise; Google ended
// this sign-in for individual accounts in June 2026).
//
// A request is a Gemini generateContent body in an envelope naming the
// model and the account's Code Assist project ({"model", "project",
// "request"}); answers, and each streamed event, come back in an envelope
// ({"response": …}) that is removed here, so the rest of the proxy sees
// the Gemini API. The project is found as the official CLI finds it
// (loadCodeAssist, then onboardUser until the operation is done) once per
// account and kept. A quota answer's retry delay becomes a Retry-After.
package codeassist

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/tokencount"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// DefaultBaseURL is the Code Assist endpoint the official CLI uses.
const DefaultBaseURL = "https://cloudcode-pa.googleapis.com"

// Config describes one Code Assist provider.
type Config struct {
	// HTTP is the connection (Name, BaseURL, timeouts); its keys are the
	// accounts' pool keys.
	HTTP upstream.Config
	// Accounts by pool key.
	Accounts map[string]*accounts.Account
	// Project, if set, is used for every account instead of discovery.
	Project string
	// UserAgent is sent with every call (upstream.UserAgent when empty).
	UserAgent string
	// OnboardPoll and OnboardTries pace the onboarding operation (2 s, 30).
	OnboardPoll  time.Duration
	OnboardTries int
	// Client makes the discovery calls (default: 30 s timeout).
	Client *http.Client
	// Antigravity speaks Antigravity's dialect of the API: its envelope
	// fields, its request rules, and FallbackURLs tried in order when a
	// base answers 429 or cannot be reached.
	Antigravity  bool
	FallbackURLs []string
	// QuotaEvery is how often the accounts' quotas are asked for (0: never).
	QuotaEvery time.Duration
}

// Provider serves Gemini requests on Code Assist accounts.
type Provider struct {
	cfg   Config
	inner *upstream.Provider
	// fallbacks are the other bases, tried in order (Antigravity).
	fallbacks []*upstream.Provider
	accts     *accounts.Set
	tokens    tokencount.Counter
	mu        sync.Mutex
	projects  map[string]string // pool key → project id
}

// New builds the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.HTTP.BaseURL == "" {
		cfg.HTTP.BaseURL = DefaultBaseURL
	}
	if cfg.OnboardPoll <= 0 {
		cfg.OnboardPoll = 2 * time.Second
	}
	if cfg.OnboardTries <= 0 {
		cfg.OnboardTries = 30
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	cfg.HTTP.Protocol = wire.Gemini
	cfg.HTTP.Route = route
	inner, err := upstream.New(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	var fallbacks []*upstream.Provider
	for _, u := range cfg.FallbackURLs {
		hc := cfg.HTTP
		hc.BaseURL = u
		f, err := upstream.New(hc)
		if err != nil {
			return nil, err
		}
		fallbacks = append(fallbacks, f)
	}
	p := &Provider{cfg: cfg, inner: inner, fallbacks: fallbacks, projects: map[string]string{},
		accts: accounts.NewSet(cfg.Accounts)}
	p.accts.WatchQuota(p, cfg.QuotaEvery)
	return p, nil
}

// route is the v1internal method of a call.
func route(c *providers.Call) (string, string) {
	switch {
	case c.Stream:
		return "/v1internal:streamGenerateContent", "alt=sse"
	}
	return "/v1internal:generateContent", ""
}

func (p *Provider) Name() string            { return p.cfg.HTTP.Name }
func (p *Provider) Protocol() wire.Protocol { return wire.Gemini }
func (p *Provider) Models() []string        { return p.cfg.HTTP.Models }

// Close stops the background refresh and drops the idle connections.
func (p *Provider) Close() {
	p.accts.Close()
	p.inner.Close()
	for _, f := range p.fallbacks {
		f.Close()
	}
}

// State reports the pool and how many accounts can serve.
func (p *Provider) State() providers.State {
	return p.accts.Serving(p.inner.State())
}

// Accounts lists the provider's accounts' states (never their tokens).
func (p *Provider) Accounts() []accounts.Status { return p.accts.Statuses() }

// AccountList is the provider's accounts (an on-demand quota check).
func (p *Provider) AccountList() []*accounts.Account { return p.accts.List() }

// Do sends the call on the account c.Key names.
func (p *Provider) Do(c *providers.Call) (*providers.Result, error) {
	acct := p.accts.Lookup(c.Key)
	if acct == nil {
		return nil, &providers.Error{Kind: wire.Internal, Err: fmt.Errorf("codeassist %s: no account for the leased key", p.Name())}
	}
	switch c.Op {
	case providers.OpGenerate:
	case providers.OpCountTokens:
		return p.countLocally(c), nil
	default:
		return refusal(404, "Code Assist serves generateContent only"), nil
	}
	cred, err := acct.Credential()
	if err != nil {
		return accountRefused(err), nil
	}
	project, res := p.project(c.Key, cred)
	if res != nil {
		return res, nil
	}
	call := *c
	call.Key = cred.AccessToken
	if p.cfg.Antigravity {
		body, err := antigravityRequest(c.Body)
		if err != nil {
			return nil, &providers.Error{Kind: wire.InvalidRequest, Err: fmt.Errorf("antigravity: request body: %w", err)}
		}
		call.Body = antigravityEnvelope(c.Model, project, body)
	} else {
		call.Body = envelope(c.Model, project, c.Body)
	}
	if p.cfg.UserAgent != "" {
		call.Extra = append(call.Extra[:0], [2]string{"User-Agent", p.cfg.UserAgent})
	}
	out, err := p.send(&call)
	if err == nil && out.Status == 401 {
		out.Release()
		if cred, err = acct.Refreshed(cred.AccessToken); err != nil {
			return accountRefused(err), nil
		}
		call.Key = cred.AccessToken
		out, err = p.send(&call)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case out.Status == 429:
		quotaRetryAfter(out)
	case out.Status != 200:
	case out.Stream != nil:
		out.Stream = &unwrapping{src: out.Stream}
		out.StreamLength = -1
	default:
		out.Body = unwrap(out.Body)
	}
	return out, nil
}

// send tries the base, then (Antigravity) each fallback base while one
// answers 429 or cannot be reached; the last base's answer stands.
func (p *Provider) send(c *providers.Call) (*providers.Result, error) {
	out, err := p.inner.Do(c)
	for _, f := range p.fallbacks {
		if err == nil && out.Status != 429 {
			break
		}
		if err == nil {
			out.Release()
		}
		out, err = f.Do(c)
	}
	return out, err
}

// envelope wraps a Gemini body for Code Assist. The model is in the
// envelope, so the body must not name one of its own.
func envelope(model, project string, body []byte) []byte {
	model = strings.TrimPrefix(model, "models/")
	dst := make([]byte, 0, len(body)+len(model)+len(project)+48)
	dst = wire.AppendJSONString(append(dst, `{"model":`...), model)
	dst = wire.AppendJSONString(append(dst, `,"project":`...), project)
	dst = append(append(dst, `,"request":`...), body...)
	return append(dst, '}')
}

// unwrap takes the Gemini answer out of a Code Assist envelope (an answer
// without one is returned as it is).
func unwrap(b []byte) []byte {
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		return b
	}
	if r := v.Get("response"); r != nil && r.Type() == fastjson.TypeObject {
		return r.MarshalTo(nil)
	}
	return b
}

// quotaRetryAfter turns RESOURCE_EXHAUSTED's retry delay ("2.4s" in a
// RetryInfo detail, or an ErrorInfo's quotaResetDelay) into a Retry-After
// in whole seconds, so the account cools down until its quota returns.
func quotaRetryAfter(res *providers.Result) {
	if len(res.RetryAfter) > 0 {
		return
	}
	v, err := fastjson.ParseBytes(res.Body)
	if err != nil {
		return
	}
	dv := v.Get("error", "details")
	if dv == nil || dv.Type() != fastjson.TypeArray {
		return
	}
	details, _ := dv.Array()
	for _, d := range details {
		for _, s := range []string{string(d.GetStringBytes("retryDelay")), string(d.GetStringBytes("metadata", "quotaResetDelay"))} {
			if dur, err := time.ParseDuration(s); err == nil && dur > 0 {
				res.RetryAfter = strconv.AppendInt(nil, int64(math.Ceil(dur.Seconds())), 10)
				return
			}
		}
	}
}

// unwrapping removes the envelope from each SSE event of a stream.
type unwrapping struct {
	src  providers.Stream
	in   []byte // bytes read, not yet split into lines
	out  []byte // transformed bytes not yet returned
	rerr error
	buf  [16 << 10]byte
}

func (u *unwrapping) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if i := bytes.IndexByte(u.in, '\n'); i >= 0 {
			u.line(u.in[:i+1])
			u.in = u.in[i+1:]
			continue
		}
		if u.rerr != nil {
			if len(u.in) > 0 {
				u.line(u.in)
				u.in = nil
				continue
			}
			return 0, u.rerr
		}
		n, err := u.src.Read(u.buf[:])
		u.in = append(u.in, u.buf[:n]...)
		u.rerr = err
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// line passes a line on, a data line with its envelope removed.
func (u *unwrapping) line(l []byte) {
	data, ok := bytes.CutPrefix(l, []byte("data:"))
	if !ok {
		u.out = append(u.out, l...)
		return
	}
	trimmed := bytes.TrimSpace(data)
	inner := unwrap(trimmed)
	u.out = append(append(append(u.out, "data: "...), inner...), '\n')
}

func (u *unwrapping) CloseWithError(err error) error { return u.src.CloseWithError(err) }

// project finds (once per account) the Code Assist project to bill.
func (p *Provider) project(key string, cred accounts.Credential) (string, *providers.Result) {
	if p.cfg.Project != "" {
		return p.cfg.Project, nil
	}
	p.mu.Lock()
	id := p.projects[key]
	p.mu.Unlock()
	if id != "" {
		return id, nil
	}
	id, status, err := p.discover(cred.AccessToken)
	if err != nil {
		if status == 401 || status == 403 {
			return "", accountRefused(fmt.Errorf("%w (Google ended Gemini CLI sign-in for individual accounts in June 2026: organisation accounts with Code Assist Standard or Enterprise still work)", err))
		}
		return "", refusal(502, "Code Assist project discovery failed: "+err.Error())
	}
	p.mu.Lock()
	p.projects[key] = id
	p.mu.Unlock()
	return id, nil
}

const discoveryMetadata = `{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}`

// discover asks loadCodeAssist for the account's project and, when it has
// none yet, onboards it to its default tier and waits for the operation.
func (p *Provider) discover(token string) (string, int, error) {
	v, status, err := p.post(token, "loadCodeAssist", `{"cloudaicompanionProject":"","metadata":`+discoveryMetadata+`}`)
	if err != nil {
		return "", status, err
	}
	if id := projectID(v.Get("cloudaicompanionProject")); id != "" {
		return id, 200, nil
	}
	tier := "free-tier"
	var tiers []*fastjson.Value
	if tv := v.Get("allowedTiers"); tv != nil && tv.Type() == fastjson.TypeArray {
		tiers, _ = tv.Array()
	}
	for _, t := range tiers {
		if t.GetBool("isDefault") {
			tier = string(t.GetStringBytes("id"))
		}
	}
	body := `{"tierId":` + strconv.Quote(tier) + `,"cloudaicompanionProject":"","metadata":` + discoveryMetadata + `}`
	for range p.cfg.OnboardTries {
		op, status, err := p.post(token, "onboardUser", body)
		if err != nil {
			return "", status, err
		}
		if op.GetBool("done") {
			if id := projectID(op.Get("response", "cloudaicompanionProject")); id != "" {
				return id, 200, nil
			}
			return "", 502, errors.New("onboarding finished without a project")
		}
		time.Sleep(p.cfg.OnboardPoll)
	}
	return "", 504, errors.New("onboarding did not finish in time")
}

// projectID reads a project given as a string or as {"id": …}.
func projectID(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	if v.Type() == fastjson.TypeString {
		return string(v.GetStringBytes())
	}
	return string(v.GetStringBytes("id"))
}

func (p *Provider) post(token, method, body string) (*fastjson.Value, int, error) {
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(p.cfg.HTTP.BaseURL, "/")+"/v1internal:"+method, strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	// The same client name as the generation calls, not Go's default.
	ua := p.cfg.UserAgent
	if ua == "" {
		ua = upstream.UserAgent
	}
	req.Header.Set("User-Agent", ua)
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", method, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	v, perr := fastjson.ParseBytes(b)
	if res.StatusCode != 200 {
		msg := ""
		if perr == nil {
			msg = string(v.GetStringBytes("error", "message"))
		}
		return nil, res.StatusCode, fmt.Errorf("%s answered HTTP %d %s", method, res.StatusCode, msg)
	}
	if perr != nil {
		return nil, 502, fmt.Errorf("%s: %w", method, perr)
	}
	return v, 200, nil
}

// accountRefused answers for an account that cannot be used: a
// credential refusal the key pool takes out of rotation.
func accountRefused(err error) *providers.Result {
	return providers.ErrorResult(wire.Gemini, 403, wire.Permission, "API_KEY_INVALID: "+err.Error())
}

// countLocally answers countTokens with the proxy's own count: Code
// Assist's counting method takes another envelope than generation, which
// we have not verified, and a local count is honest about being one.
func (p *Provider) countLocally(c *providers.Call) *providers.Result {
	n, err := p.tokens.Count(wire.Gemini, tokencount.FamilyFor(c.Model, wire.Gemini), c.Body)
	if err != nil {
		return refusal(400, err.Error())
	}
	r := providers.NewResult(nil)
	r.Status = 200
	r.ContentType = []byte("application/json")
	r.Body = append(strconv.AppendInt([]byte(`{"totalTokens":`), int64(n), 10), '}')
	return r
}

func refusal(status int, msg string) *providers.Result {
	return providers.ErrorResult(wire.Gemini, status, wire.KindForStatus(status), msg)
}
