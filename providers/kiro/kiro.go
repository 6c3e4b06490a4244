// Package kiro is the provider for Kiro IDE accounts: Claude models
// through Amazon's CodeWhisperer service (generateAssistantResponse), as
// the Kiro IDE reaches it with a social (Google, GitHub) or AWS Builder
// ID / IAM Identity Center sign-in.
//
// The provider speaks Anthropic Messages to the rest of the proxy: every
// ingress protocol is converted to an Anthropic body, which is rebuilt
// here as the service's conversation state (request.go), and the
// service's answer, AWS event-stream frames (package eventstream), is
// turned back into an Anthropic stream event by event, or a whole
// Anthropic message (response.go). A corrupt or cut answer ends the
// stream with an error, which the relay sends as the client protocol's
// error event.
//
// The service's refusals: a 401 refreshes the account's token and tries
// once more, then refuses the account; a 403 does the same when its body
// blames the token, else refuses the account; a 402 (the month's quota
// spent) becomes a 429 whose Retry-After is the first of next month
// (UTC), resting the account; 429 and
// 5xx pass to the key pool, which tries another account.
package kiro

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/kiro/eventstream"
	"github.com/llmproxy/proxy/providers/tokencount"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Defaults, all overridable in config.
const (
	DefaultBaseURL = "https://q.us-east-1.amazonaws.com"
	// DefaultPath is the service's method, after the base URL.
	DefaultPath = "/generateAssistantResponse"
	// DefaultSDKAgent is the SDK part of x-amz-user-agent the IDE sends;
	// the machine id is appended.
	DefaultSDKAgent = "aws-sdk-js/1.0.34 KiroIDE-0.11.63"
	// maxMessage bounds one event-stream message of the answer.
	maxMessage = 4 << 20
	// defaultMaxAnswer bounds a whole answer when max_response_bytes is
	// not set: what is kept of it (the text, for the output count and a
	// whole message) must not grow without end.
	defaultMaxAnswer = 32 << 20
)

// Config describes one kiro provider.
type Config struct {
	// HTTP is the connection (Name, BaseURL, timeouts, operator headers);
	// its keys are the accounts' pool keys.
	HTTP upstream.Config
	// Accounts by pool key.
	Accounts map[string]*accounts.Account
	// Path is the generateAssistantResponse method's path.
	Path string
	// UserAgent is the x-amz-user-agent header (DefaultSDKAgent and a
	// machine id when empty).
	UserAgent string
	// Models maps model names to the service's ids before the default
	// rule (ModelID).
	Models map[string]string
	// ProfilesPath is where ListAvailableProfiles is posted, after the
	// base URL (default "/").
	ProfilesPath string
	// Client makes the profile discovery and usage calls (default: 30 s
	// timeout).
	Client *http.Client
	// QuotaURL is the usage-limits method (default: the base URL and
	// DefaultUsagePath); QuotaEvery how often it is asked (0: never).
	QuotaURL   string
	QuotaEvery time.Duration
	// Now tells the time (tests); time.Now when nil.
	Now func() time.Time
}

// Provider sends calls to the service on the leased account.
type Provider struct {
	cfg      Config
	inner    *upstream.Provider
	accts    *accounts.Set
	tokens   tokencount.Counter
	agent    string
	profiles profiles
}

// New builds the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.HTTP.BaseURL == "" {
		cfg.HTTP.BaseURL = DefaultBaseURL
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProfilesPath == "" {
		cfg.ProfilesPath = "/"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.QuotaURL == "" {
		cfg.QuotaURL = strings.TrimRight(cfg.HTTP.BaseURL, "/") + DefaultUsagePath
	}
	path := cfg.Path
	cfg.HTTP.Protocol = wire.Anthropic
	cfg.HTTP.Route = func(*providers.Call) (string, string) { return path, "" }
	inner, err := upstream.New(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	agent := cfg.UserAgent
	if agent == "" {
		agent = DefaultSDKAgent + "-" + machineID()
	}
	p := &Provider{cfg: cfg, inner: inner, accts: accounts.NewSet(cfg.Accounts), agent: agent,
		profiles: profiles{byKey: map[string]profileEntry{}}}
	p.accts.WatchQuota(p, cfg.QuotaEvery)
	return p, nil
}

// machineID stands for the IDE's hashed machine id: the SHA-256 of the
// host name, stable across restarts.
func machineID() string {
	h, _ := os.Hostname()
	sum := sha256.Sum256([]byte("kiro:" + h))
	return hex.EncodeToString(sum[:])
}

func (p *Provider) Name() string            { return p.cfg.HTTP.Name }
func (p *Provider) Protocol() wire.Protocol { return wire.Anthropic }
func (p *Provider) Models() []string        { return p.cfg.HTTP.Models }

// State reports the connection pool and how many accounts can serve.
func (p *Provider) State() providers.State {
	return p.accts.Serving(p.inner.State())
}

// Close stops the background refresh and drops the idle connections.
func (p *Provider) Close() {
	p.accts.Close()
	p.inner.Close()
}

// Accounts lists the provider's accounts' states (never their tokens).
func (p *Provider) Accounts() []accounts.Status { return p.accts.Statuses() }

// AccountList is the provider's accounts, for an asked-for quota check.
func (p *Provider) AccountList() []*accounts.Account { return p.accts.List() }

// Do sends the call on the account c.Key names.
func (p *Provider) Do(c *providers.Call) (*providers.Result, error) {
	acct := p.accts.Lookup(c.Key)
	if acct == nil {
		return nil, &providers.Error{Kind: wire.Internal, Err: fmt.Errorf("kiro %s: no account for the leased key", p.Name())}
	}
	switch c.Op {
	case providers.OpGenerate:
	case providers.OpCountTokens:
		return p.countLocally(c), nil
	default:
		return refusal(404, "the Kiro service generates messages only"), nil
	}
	cred, err := acct.Credential()
	if err != nil {
		return accountRefused(errSignIn), nil
	}
	conv := newID()
	model := ModelID(c.Model, p.cfg.Models)
	arn := cred.AccountID
	if arn == "" {
		arn = p.profileFor(c.Key, cred.AccessToken)
	}
	body, err := buildRequest(c.Body, model, conv, arn)
	if err != nil {
		return refusal(400, err.Error()), nil
	}
	call := *c
	call.Body, call.Stream, call.Header = body, true, nil
	res, err := p.send(&call, cred)
	if err == nil && (res.Status == 401 || (res.Status == 403 && blamesToken(res.Body))) {
		res.Release()
		if cred, err = acct.Refreshed(cred.AccessToken); err != nil {
			return accountRefused(errSignIn), nil
		}
		if cred.AccountID != "" {
			if call.Body, err = buildRequest(c.Body, model, conv, cred.AccountID); err != nil {
				return refusal(400, err.Error()), nil
			}
		}
		res, err = p.send(&call, cred)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case res.Status == 401 || res.Status == 403:
		msg := upstreamMessage(res.Body)
		res.Release()
		return accountRefused(fmt.Errorf("the service refused the account (HTTP %d): %s", res.Status, msg)), nil
	case res.Status == 402:
		res.Release()
		return p.monthlyQuota(), nil
	case res.Status != 200:
		return p.upstreamError(res), nil
	}
	input, _ := p.tokens.Count(wire.Anthropic, tokencount.Claude, c.Body)
	limit := int64(p.cfg.HTTP.MaxResponseBytes)
	if limit <= 0 {
		limit = defaultMaxAnswer
	}
	rd := reader{dec: eventstream.NewDecoder(&bounded{r: res.Stream, left: limit}, maxMessage)}
	if _, err := rd.peek(); err != nil {
		// An answer that fails before its first event is answered as
		// the HTTP error it stands for, so that the key pool and the
		// retry plan treat it as they would the status.
		var ex *Exception
		if errors.As(err, &ex) {
			_ = res.Stream.CloseWithError(nil)
			res.Release()
			if ex.Status() == 402 {
				return p.monthlyQuota(), nil
			}
			return refusal(ex.Status(), "kiro: "+ex.Type+": "+ex.Message), nil
		}
	}
	id := "msg_" + conv
	var think *splitter
	if v, err := fastjson.ParseBytes(c.Body); err == nil && thinkingBudget(v) > 0 {
		think = &splitter{}
	}
	if c.Stream {
		s := &sse{r: rd, closeFn: res.Stream.CloseWithError, model: c.Model, id: id, input: input, count: p.countOutput, think: think}
		out := providers.NewResult(res.Release)
		out.Status, out.ContentType, out.Stream = 200, []byte("text/event-stream"), s
		return out, nil
	}
	defer res.Release()
	msg, err := whole(&rd, id, c.Model, input, think, p.countOutput)
	_ = res.Stream.CloseWithError(nil)
	if err != nil {
		return nil, &providers.Error{Kind: wire.BadGateway, Err: err}
	}
	out := providers.NewResult(nil)
	out.Status, out.ContentType, out.Body = 200, []byte("application/json"), msg
	return out, nil
}

func (p *Provider) send(c *providers.Call, cred accounts.Credential) (*providers.Result, error) {
	c.Key = cred.AccessToken
	c.Extra = append(c.Extra[:0],
		[2]string{"Accept", "application/vnd.amazon.eventstream"},
		[2]string{"amz-sdk-invocation-id", newID()},
		[2]string{"amz-sdk-request", "attempt=1; max=3"},
		[2]string{"x-amzn-kiro-agent-mode", "vibe"},
		[2]string{"x-amzn-codewhisperer-optout", "true"},
		[2]string{"x-amz-user-agent", p.agent},
	)
	// The operator's headers (config) come last and win.
	c.Extra = append(c.Extra, p.cfg.HTTP.Headers...)
	return p.inner.Do(c)
}

// blamesToken reports whether a 403's body says the token is at fault
// (then a refresh may help), as opposed to the account's entitlement.
func blamesToken(body []byte) bool {
	b := bytes.ToLower(body)
	for _, m := range []string{"token", "expired", "invalid", "bearer"} {
		if bytes.Contains(b, []byte(m)) {
			return true
		}
	}
	return false
}

// monthlyQuota answers for an account whose month's quota is spent: a
// 429 whose Retry-After rests the account until the quota resets, the
// first of next month at 00:00 UTC.
func (p *Provider) monthlyQuota() *providers.Result {
	now := p.cfg.Now().UTC()
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	r := providers.ErrorResult(wire.Anthropic, 429, wire.RateLimited,
		"this Kiro account's monthly quota is spent; it resets "+reset.Format(time.RFC3339))
	r.RetryAfter = strconv.AppendInt(nil, int64(reset.Sub(now)/time.Second)+1, 10)
	return r
}

// upstreamError re-shapes the service's error answer ({"message",
// "reason"}) as an Anthropic error with the same status.
func (p *Provider) upstreamError(res *providers.Result) *providers.Result {
	defer res.Release()
	msg := upstreamMessage(res.Body)
	out := providers.ErrorResult(wire.Anthropic, res.Status, wire.KindForStatus(res.Status), "kiro: "+msg)
	out.RetryAfter = append([]byte(nil), res.RetryAfter...)
	return out
}

func upstreamMessage(body []byte) string {
	v, err := fastjson.ParseBytes(body)
	if err == nil {
		if m := v.GetStringBytes("message"); len(m) > 0 {
			s := string(m)
			if r := v.GetStringBytes("reason"); len(r) > 0 {
				s += " (" + string(r) + ")"
			}
			return s
		}
	}
	return "HTTP error without a message"
}

// countLocally answers count_tokens with the proxy's own count.
func (p *Provider) countLocally(c *providers.Call) *providers.Result {
	n, err := p.tokens.Count(wire.Anthropic, tokencount.Claude, c.Body)
	if err != nil {
		return refusal(400, "count_tokens: "+err.Error())
	}
	r := providers.NewResult(nil)
	r.Status, r.ContentType = 200, []byte("application/json")
	r.Body = strconv.AppendInt([]byte(`{"input_tokens":`), int64(n), 10)
	r.Body = append(r.Body, '}')
	return r
}

// countOutput estimates the tokens of the generated text and tool
// inputs (the service reports credits, not tokens) with the local
// counter: the count of an assistant message holding them, less that of
// an empty one.
func (p *Provider) countOutput(out []byte) int {
	if len(out) == 0 {
		return 0
	}
	body := wire.AppendJSONString([]byte(`{"messages":[{"role":"assistant","content":`), string(out))
	body = append(body, "}]}"...)
	n, err := p.tokens.Count(wire.Anthropic, tokencount.Claude, body)
	if err != nil {
		return 0
	}
	base, _ := p.tokens.Count(wire.Anthropic, tokencount.Claude, []byte(`{"messages":[{"role":"assistant","content":""}]}`))
	return max(n-base, 1)
}

// newID is a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// errSignIn is what a client is told of an account whose token could
// not be refreshed; why (which file, what the token service said) is
// the operator's, in /health and `proxy accounts`.
var errSignIn = errors.New("the Kiro account's sign-in could not be renewed")

// accountRefused answers for an account that cannot be used: a 401 the
// key pool reads as a rejected credential (Anthropic's
// authentication_error), so the next request goes to another account.
func accountRefused(err error) *providers.Result {
	return providers.ErrorResult(wire.Anthropic, 401, wire.Authentication, err.Error())
}

func refusal(status int, msg string) *providers.Result {
	return providers.ErrorResult(wire.Anthropic, status, wire.KindForStatus(status), msg)
}

// ErrAnswerTooLarge ends an answer longer than the provider's bound.
var ErrAnswerTooLarge = errors.New("kiro: the answer exceeds max_response_bytes")

// bounded reads at most left bytes, then fails with ErrAnswerTooLarge.
type bounded struct {
	r    io.Reader
	left int64
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrAnswerTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
