// Package codex is the provider for ChatGPT sign-in accounts, the ones
// Codex CLI's "Sign in with ChatGPT" uses: the Responses API of the ChatGPT
// backend (https://chatgpt.com/backend-api/codex/responses), reached with
// an account's OAuth access token and its ChatGPT account id. Every ingress
// protocol reaches it through the usual conversion to Responses.
//
// The backend's rules, applied to every body: store is false, the answer is
// always streamed (a client that asked for a whole answer gets the
// response the stream's response.completed event carries), instructions are
// present and input is a list. A quota answer (usage_limit_reached with
// resets_in_seconds) becomes a Retry-After, so the account cools down until
// its reset rather than for a fixed backoff. A 401 refreshes the account's
// token once and sends the request again on the same account.
package codex

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Defaults, all overridable in config: the backend and the client
// identification the official CLI sends.
const (
	DefaultBaseURL    = "https://chatgpt.com/backend-api/codex"
	DefaultOriginator = "codex_cli_rs"
)

// Config describes one codex provider.
type Config struct {
	// HTTP is the upstream connection (Name, BaseURL, timeouts); its
	// protocol is Responses and its keys are the accounts' pool keys.
	HTTP upstream.Config
	// Accounts by the pool key the proxy leases them under.
	Accounts map[string]*accounts.Account
	// Originator and Version identify the client to the backend.
	Originator, Version string
	// QuotaURL is ChatGPT's usage endpoint (derived from the base when
	// empty); QuotaEvery how often it is asked (0: never).
	QuotaURL   string
	QuotaEvery time.Duration
}

// Provider sends calls to the ChatGPT backend on the leased account.
type Provider struct {
	cfg         Config
	inner       *upstream.Provider
	accts       *accounts.Set
	quotaClient *http.Client
}

// New builds the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.HTTP.BaseURL == "" {
		cfg.HTTP.BaseURL = DefaultBaseURL
	}
	if cfg.Originator == "" {
		cfg.Originator = DefaultOriginator
	}
	cfg.HTTP.Protocol = wire.OpenAIResponses
	inner, err := upstream.New(cfg.HTTP)
	if err != nil {
		return nil, err
	}
	if cfg.QuotaURL == "" {
		cfg.QuotaURL = usageURL(cfg.HTTP.BaseURL)
	}
	p := &Provider{cfg: cfg, inner: inner, accts: accounts.NewSet(cfg.Accounts), quotaClient: &http.Client{Timeout: 15 * time.Second}}
	p.accts.WatchQuota(p, cfg.QuotaEvery)
	return p, nil
}

func (p *Provider) Name() string            { return p.cfg.HTTP.Name }
func (p *Provider) Protocol() wire.Protocol { return wire.OpenAIResponses }
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

// AccountList is the provider's accounts (an on-demand quota check).
func (p *Provider) AccountList() []*accounts.Account { return p.accts.List() }

// Do sends the call on the account c.Key names.
func (p *Provider) Do(c *providers.Call) (*providers.Result, error) {
	acct := p.accts.Lookup(c.Key)
	if acct == nil {
		return nil, &providers.Error{Kind: wire.Internal, Err: fmt.Errorf("codex %s: no account for the leased key", p.Name())}
	}
	if c.Op != providers.OpGenerate {
		return refusal(404, "the ChatGPT backend serves responses only"), nil
	}
	cred, err := acct.Credential()
	if err != nil {
		return accountRefused(err), nil
	}
	body, err := backendBody(c.Body)
	if err != nil {
		return nil, &providers.Error{Kind: wire.InvalidRequest, Err: fmt.Errorf("codex: request body: %w", err)}
	}
	wantStream := c.Stream
	call := *c
	call.Body, call.Stream = body, true
	res, err := p.send(&call, cred, body)
	if err == nil && res.Status == 401 {
		// The token was refused: refresh it (once) and try again on the
		// same account.
		res.Release()
		if cred, err = acct.Refreshed(cred.AccessToken); err != nil {
			return accountRefused(err), nil
		}
		res, err = p.send(&call, cred, body)
	}
	if err != nil {
		return nil, err
	}
	if res.Status == 429 {
		quotaRetryAfter(res)
	}
	if res.Status != 200 || wantStream {
		return res, nil
	}
	return p.assemble(res)
}

func (p *Provider) send(c *providers.Call, cred accounts.Credential, body []byte) (*providers.Result, error) {
	c.Key = cred.AccessToken
	c.Extra = c.Extra[:0]
	c.Extra = append(c.Extra, [2]string{"originator", p.cfg.Originator})
	if cred.AccountID != "" {
		c.Extra = append(c.Extra, [2]string{"chatgpt-account-id", cred.AccountID})
	}
	if p.cfg.Version != "" {
		c.Extra = append(c.Extra, [2]string{"version", p.cfg.Version})
	}
	if k := fastjson.GetString(body, "prompt_cache_key"); k != "" {
		c.Extra = append(c.Extra, [2]string{"session_id", k})
	}
	return p.inner.Do(c)
}

// backendBody applies the backend's rules to a Responses body.
func backendBody(body []byte) ([]byte, error) {
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), body...)
	set := func(key, value string) {
		if err == nil {
			out, err = jsonpatch.Replace(nil, out, key, []byte(value))
		}
	}
	set("store", "false")
	set("stream", "true")
	if v.Get("instructions") == nil {
		set("instructions", `""`)
	}
	if in := v.Get("input"); in != nil && in.Type() == fastjson.TypeString {
		item := wire.AppendJSONString([]byte(`[{"role":"user","content":`), string(in.GetStringBytes()))
		set("input", string(append(item, "}]"...)))
	}
	return out, err
}

// maxAssembled bounds the stream read to build a whole answer.
const maxAssembled = 32 << 20

// assemble reads a streamed answer to its end and returns the response
// object its completion event carries, as a non-stream answer.
func (p *Provider) assemble(res *providers.Result) (*providers.Result, error) {
	defer res.Release()
	sc := bufio.NewScanner(io.LimitReader(res.Stream, maxAssembled))
	sc.Buffer(make([]byte, 0, 64<<10), maxAssembled)
	var final []byte
	var failed []byte
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		switch wire.EventEnd(wire.OpenAIResponses, []byte(fastjson.GetString(data, "type")), data) {
		case wire.StreamDone:
			v, err := fastjson.ParseBytes(data)
			if err == nil && v.Get("response") != nil {
				final = v.Get("response").MarshalTo(nil)
			}
		case wire.StreamFailed:
			failed = append([]byte(nil), data...)
		}
		if final != nil || failed != nil {
			break
		}
	}
	_ = res.Stream.CloseWithError(nil)
	out := providers.NewResult(nil)
	out.ContentType = []byte("application/json")
	switch {
	case final != nil:
		out.Status, out.Body = 200, final
	case failed != nil:
		out.Status, out.Body = 502, failedBody(failed)
	default:
		err := sc.Err()
		if err == nil {
			err = errors.New("the stream ended without response.completed")
		}
		return nil, &providers.Error{Kind: wire.BadGateway, Err: fmt.Errorf("codex: %w", err)}
	}
	return out, nil
}

// failedBody turns a stream's error or response.failed event into an
// error answer body.
func failedBody(ev []byte) []byte {
	v, err := fastjson.ParseBytes(ev)
	if err == nil {
		if e := v.Get("response", "error"); e != nil {
			return append(append([]byte(`{"error":`), e.MarshalTo(nil)...), '}')
		}
		if msg := v.GetStringBytes("message"); msg != nil {
			return wire.AppendError(nil, wire.OpenAIResponses, wire.BadGateway, string(msg), "")
		}
	}
	return wire.AppendError(nil, wire.OpenAIResponses, wire.BadGateway, "the ChatGPT backend failed the response", "")
}

// quotaRetryAfter turns the backend's quota answer
// ({"error":{"type":"usage_limit_reached","resets_in_seconds":N}}) into a
// Retry-After, which cools the account down until its reset.
func quotaRetryAfter(res *providers.Result) {
	if len(res.RetryAfter) > 0 {
		return
	}
	v, err := fastjson.ParseBytes(res.Body)
	if err != nil {
		return
	}
	if n := v.GetInt("error", "resets_in_seconds"); n > 0 {
		res.RetryAfter = strconv.AppendInt(nil, int64(n), 10)
	}
}

// accountRefused answers for an account that cannot be used (its refresh
// failed): a 401 the proxy's key pool treats as a rejected credential, so
// the next request goes to another account.
func accountRefused(err error) *providers.Result {
	return providers.ErrorResult(wire.OpenAIResponses, 401, wire.Authentication, "invalid_api_key: "+err.Error())
}

func refusal(status int, msg string) *providers.Result {
	return providers.ErrorResult(wire.OpenAIResponses, status, wire.KindForStatus(status), msg)
}
