package copilot

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// session is an account's Copilot token. Its mutex makes the trade
// single-flight: the requests that find the token stale wait for one
// trade and all use its result.
type session struct {
	mu  sync.Mutex
	tok copilotToken
	// refusedAt is when GitHub last refused the account's token: the
	// background round leaves it alone for a while rather than knock
	// every minute with a dead token.
	refusedAt time.Time
	// quotaAsked is when a quota answer last made us ask for the quota.
	quotaAsked time.Time
}

// refusedRest is how long the background round leaves a refused account.
const refusedRest = 15 * time.Minute

type copilotToken struct {
	token, api string
	refreshAt  time.Time
	expires    time.Time
}

// maxTokenAnswer bounds the token and user endpoints' answers.
const maxTokenAnswer = 1 << 20

// errRejected is a GitHub token GitHub refused (revoked, expired, or an
// account without Copilot): the account cannot serve until signed in again.
type errRejected struct{ msg string }

func (e *errRejected) Error() string { return e.msg }

// copilotToken returns the account's Copilot token, trading the GitHub
// token for a new one when the kept one is due for refresh, or is stale
// (the one the API just refused; another request may have replaced it
// meanwhile). A refusal of the GitHub token marks the account.
func (p *Provider) copilotToken(acct *accounts.Account, s *session, stale string) (copilotToken, *providers.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := p.cfg.Now()
	if s.tok.token != "" && s.tok.token != stale && now.Before(s.tok.refreshAt) {
		return s.tok, nil
	}
	t, err := p.exchangeFor(acct, now)
	if err != nil {
		var rej *errRejected
		if errors.As(err, &rej) {
			acct.Fail(err)
			s.tok, s.refusedAt = copilotToken{}, now
			return copilotToken{}, accountRefused(err)
		}
		if s.tok.token != "" && s.tok.token != stale && now.Before(s.tok.expires) {
			return s.tok, nil // still valid: the trade is retried on the next request
		}
		return copilotToken{}, providers.ErrorResult(wire.OpenAIChat, 502, wire.BadGateway, "copilot token exchange: "+err.Error())
	}
	acct.Recover()
	s.tok, s.refusedAt = t, time.Time{}
	return t, nil
}

// exchange trades a GitHub token for a Copilot token at the token
// endpoint: {"token", "expires_at" (unix s), "refresh_in" (s),
// "endpoints": {"api"}}.
func (p *Provider) exchange(gh string, now time.Time) (copilotToken, error) {
	if gh == "" {
		return copilotToken{}, &errRejected{"no GitHub token in the account: sign in with proxy login copilot"}
	}
	v, status, err := p.getJSON(p.cfg.TokenURL, "token "+gh)
	switch {
	case err != nil && status == 0:
		return copilotToken{}, err
	case status == 401:
		return copilotToken{}, &errRejected{"GitHub refused the account's token (revoked or expired): sign in again with proxy login copilot"}
	case status == 403 || status == 404:
		return copilotToken{}, &errRejected{fmt.Sprintf("GitHub refused a Copilot token for this account (HTTP %d%s): it needs an active Copilot subscription", status, githubMessage(v))}
	case err != nil:
		return copilotToken{}, err
	}
	t := copilotToken{token: string(v.GetStringBytes("token")), api: string(v.GetStringBytes("endpoints", "api"))}
	if t.token == "" {
		return copilotToken{}, errors.New("the token endpoint's answer has no token")
	}
	if u, err := url.Parse(t.api); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		t.api = p.cfg.HTTP.BaseURL
	}
	if exp := v.GetInt64("expires_at"); exp > 0 {
		t.expires = time.Unix(exp, 0)
	} else {
		t.expires = now.Add(25 * time.Minute)
	}
	// Traded again at refresh_in, as the official clients do, and in any
	// case a minute before it expires.
	t.refreshAt = t.expires.Add(-time.Minute)
	if in := v.GetInt64("refresh_in"); in > 0 && now.Add(time.Duration(in)*time.Second).Before(t.refreshAt) {
		t.refreshAt = now.Add(time.Duration(in) * time.Second)
	}
	return t, nil
}

func githubMessage(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	if m := v.GetStringBytes("message"); len(m) > 0 {
		return ": " + string(m)
	}
	return ""
}

// getJSON sends a GET with the client's identification and reads a JSON
// answer. status is 0 when no answer came; err is set for any non-200.
func (p *Provider) getJSON(u, auth string) (*fastjson.Value, int, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	for _, h := range p.headers {
		req.Header.Set(h[0], h[1])
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", redactURL(u), err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", redactURL(u), err)
	}
	v, perr := fastjson.ParseBytes(b)
	if perr != nil {
		v = nil
	}
	if res.StatusCode != http.StatusOK {
		return v, res.StatusCode, fmt.Errorf("%s answered HTTP %d%s", redactURL(u), res.StatusCode, githubMessage(v))
	}
	if perr != nil {
		return nil, 502, fmt.Errorf("%s: %w", redactURL(u), perr)
	}
	return v, 200, nil
}

// redactURL names an endpoint without its query.
func redactURL(u string) string {
	if pu, err := url.Parse(u); err == nil {
		return pu.Scheme + "://" + pu.Host + pu.Path
	}
	return "endpoint"
}

// warmLoop trades tokens due within two intervals and renews the model
// list, in the background, until Close.
func (p *Provider) warmLoop() {
	defer close(p.warmDone)
	t := time.NewTicker(p.cfg.WarmEvery)
	defer t.Stop()
	for {
		p.warm()
		select {
		case <-p.stopWarm:
			return
		case <-t.C:
		}
	}
}

// modelsEvery is how often the model list is renewed.
const modelsEvery = 30 * time.Minute

func (p *Provider) warm() {
	lead := 2 * p.cfg.WarmEvery
	var any copilotToken
	for key, s := range p.sessions {
		select {
		case <-p.stopWarm:
			return
		default:
		}
		acct := p.accts.Lookup(key)
		s.mu.Lock()
		cur, refused := s.tok, s.refusedAt
		s.mu.Unlock()
		if !refused.IsZero() && p.cfg.Now().Sub(refused) < refusedRest {
			continue
		}
		if cur.token == "" || !p.cfg.Now().Add(lead).Before(cur.refreshAt) {
			var res *providers.Result
			if cur, res = p.copilotToken(acct, s, ""); res != nil {
				continue // the account's status says why
			}
		}
		if any.token == "" {
			any = cur
		}
	}
	if any.token != "" && time.Since(time.Unix(p.modelsAt.Load(), 0)) >= modelsEvery {
		p.refreshModels(any)
	}
}

// exchangeFor trades the account's GitHub token (refreshed first if it is
// one of GitHub's expiring tokens and near its end).
func (p *Provider) exchangeFor(acct *accounts.Account, now time.Time) (copilotToken, error) {
	cred, err := acct.Credential()
	if err != nil {
		return copilotToken{}, &errRejected{err.Error()}
	}
	return p.exchange(cred.AccessToken, now)
}

// ghToken is the account's GitHub token for the quota view (asked in the
// background, so a refresh it may need is no request's wait).
func ghToken(a *accounts.Account) string {
	cred, _ := a.Credential()
	return cred.AccessToken
}
