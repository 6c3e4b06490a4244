package copilot

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
	"github.com/llmproxy/proxy/providers/upstream"
)

// clock is a settable time for the token's refresh point.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

// build makes a provider on the mock with one account per GitHub token
// (keys k0, k1, ...).
func build(t *testing.T, m *copilotmock.Server, tokens []string, tweak func(*Config)) *Provider {
	t.Helper()
	byKey := map[string]*accounts.Account{}
	for i, tok := range tokens {
		byKey["k"+strconv.Itoa(i)] = accounts.Static("acct"+strconv.Itoa(i), tok)
	}
	cfg := Config{
		HTTP:     upstream.Config{Name: "copilot", BaseURL: m.URL + "/unused", Models: []string{"*"}, FirstByteTimeout: 5 * time.Second, ConnectTimeout: time.Second},
		Accounts: byKey, TokenURL: m.URL + "/copilot_internal/v2/token", UserURL: m.URL + "/copilot_internal/user",
		WarmEvery: time.Hour,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func chatCall(key string, stream bool) *providers.Call {
	return &providers.Call{Op: providers.OpGenerate, Model: "gpt-4.1", Stream: stream, Key: key,
		Body: []byte(`{"model":"gpt-4.1","stream":` + strconv.FormatBool(stream) + `,"messages":[{"role":"user","content":"hi"}]}`)}
}

// answer reads a result whole (its body, or its stream to the end).
func answer(t *testing.T, res *providers.Result) string {
	t.Helper()
	defer res.Release()
	if res.Stream != nil {
		b, err := io.ReadAll(res.Stream)
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		return string(b)
	}
	return string(res.Body)
}

func do(t *testing.T, p *Provider, c *providers.Call) (int, string) {
	t.Helper()
	res, err := p.Do(c)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return res.Status, answer(t, res)
}

func TestCopilotChatOnTheTokensAPI(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	p := build(t, m, []string{"gho_a"}, func(c *Config) {
		c.HTTP.Headers = [][2]string{{"editor-version", "vscode/9.9.9"}} // the operator's, over the default
	})
	for _, stream := range []bool{false, true} {
		st, body := do(t, p, chatCall("k0", stream))
		if st != 200 {
			t.Fatalf("stream=%v: %d %s", stream, st, body)
		}
		want := `"content":"Hello from Copilot."`
		if stream {
			want = "data: [DONE]"
		}
		if !strings.Contains(body, want) {
			t.Fatalf("stream=%v: answer %s lacks %s", stream, body, want)
		}
	}
	reqs := m.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d API requests, want 2", len(reqs))
	}
	h := reqs[0].Header
	for name, want := range map[string]string{
		"Authorization": "Bearer cop-1", "Editor-Version": "vscode/9.9.9", "Copilot-Integration-Id": "vscode-chat",
		"Editor-Plugin-Version": "copilot-chat/0.38.0", "User-Agent": "GitHubCopilotChat/0.38.0", "Openai-Intent": "conversation-panel",
		"X-Github-Api-Version": "2025-04-01",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if reqs[0].Path != "/api/chat/completions" {
		t.Errorf("path %s: the API base is the token answer's endpoints.api", reqs[0].Path)
	}
	if h.Get("Copilot-Vision-Request") != "" {
		t.Error("Copilot-Vision-Request sent without an image")
	}
	if n := m.Exchanges(); n != 1 {
		t.Errorf("%d token exchanges for two requests, want 1", n)
	}
}

func TestCopilotImageSaysVision(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	p := build(t, m, []string{"gho_a"}, nil)
	c := chatCall("k0", false)
	c.Body = []byte(`{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`)
	if st, body := do(t, p, c); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	if got := m.Requests()[0].Header.Get("Copilot-Vision-Request"); got != "true" {
		t.Fatalf("Copilot-Vision-Request %q with an image, want true", got)
	}
}

func TestCopilotTokenTradedAgainAtRefreshIn(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}, RefreshIn: 25 * time.Minute, TokenLife: 30 * time.Minute})
	clk := newClock()
	p := build(t, m, []string{"gho_a"}, func(c *Config) { c.Now = clk.now })
	if st, body := do(t, p, chatCall("k0", false)); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	clk.advance(24 * time.Minute)
	do(t, p, chatCall("k0", false))
	if n := m.Exchanges(); n != 1 {
		t.Fatalf("%d exchanges before refresh_in, want 1", n)
	}
	clk.advance(2 * time.Minute) // past refresh_in, before expiry
	do(t, p, chatCall("k0", false))
	if n := m.Exchanges(); n != 2 {
		t.Fatalf("%d exchanges after refresh_in, want 2", n)
	}
	reqs := m.Requests()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer cop-2" {
		t.Fatalf("sent %q after the refresh, want the new token", got)
	}
}

// An expired Copilot token (the API answers 401) is traded again once,
// however many requests find it expired at the same time.
func TestCopilotExpiredTokenRefreshedOnceUnderConcurrency(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}, ExchangeDelay: 50 * time.Millisecond})
	p := build(t, m, []string{"gho_a"}, nil)
	if st, body := do(t, p, chatCall("k0", false)); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	m.ExpireAll()
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Do(chatCall("k0", i%2 == 0))
			if err != nil {
				return
			}
			statuses[i] = res.Status
			if res.Stream != nil {
				_, _ = io.Copy(io.Discard, res.Stream)
			}
			res.Release()
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Fatalf("request %d: status %d after the token expired", i, st)
		}
	}
	if got := m.Exchanges(); got != 2 {
		t.Fatalf("%d token exchanges, want 2 (the first, and one after the expiry)", got)
	}
}

func TestCopilotRevokedGitHubTokenMarksTheAccount(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_good", "gho_later"}})
	p := build(t, m, []string{"gho_good", "gho_revoked", "gho_later"}, nil)
	st, body := do(t, p, chatCall("k1", false))
	if st != 401 || !strings.Contains(body, "invalid_api_key") || !strings.Contains(body, "proxy login copilot") {
		t.Fatalf("revoked token: %d %s, want a 401 the pool takes as a rejected key, saying to sign in again", st, body)
	}
	if st, _ := do(t, p, chatCall("k0", false)); st != 200 {
		t.Fatalf("the other account: %d", st)
	}
	// Revoked while in use: the API refuses its Copilot token, the trade
	// is refused too.
	if st, _ := do(t, p, chatCall("k2", false)); st != 200 {
		t.Fatalf("k2 before the revocation: %d", st)
	}
	m.Revoke("gho_later")
	if st, _ := do(t, p, chatCall("k2", false)); st != 401 {
		t.Fatalf("k2 after the revocation: %d, want 401", st)
	}
	bad := 0
	for _, s := range p.Accounts() {
		if s.LastError != "" {
			bad++
			if !strings.Contains(s.LastError, "revoked or expired") {
				t.Errorf("%s: %q does not say why", s.Label, s.LastError)
			}
		}
	}
	if bad != 2 || p.State().Keys != 1 {
		t.Fatalf("%d accounts marked, %d usable; want 2 and 1", bad, p.State().Keys)
	}
	if strings.Contains(body, "gho_") {
		t.Fatal("a GitHub token in the answer")
	}
}

func TestCopilotOutOfQuotaRestsUntilReset(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	clk := newClock()
	p := build(t, m, []string{"gho_a"}, func(c *Config) { c.Now = clk.now })
	m.Exhaust("gho_a")
	acct := p.accts.Lookup("k0")
	q, err := p.FetchQuota(acct)
	if err != nil {
		t.Fatal(err)
	}
	acct.SetQuota(q, nil, clk.now())
	res, err := p.Do(chatCall("k0", false))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if res.Status != 429 || !strings.Contains(string(res.Body), "quota_exceeded") {
		t.Fatalf("%d %s, want 429 with the upstream's quota answer", res.Status, res.Body)
	}
	secs, _ := strconv.Atoi(string(res.RetryAfter))
	want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Sub(clk.now())
	if d := time.Duration(secs) * time.Second; d < want || d > want+2*time.Second {
		t.Fatalf("Retry-After %q, want the seconds until the quota reset (%v)", res.RetryAfter, want)
	}
}

// Out of quota before the view knew it: the answer makes the provider ask,
// in the background, so the next rest lasts until the reset.
func TestCopilotOutOfQuotaAsksForTheReset(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	p := build(t, m, []string{"gho_a"}, nil)
	m.Exhaust("gho_a")
	res, err := p.Do(chatCall("k0", false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 429 || len(res.RetryAfter) != 0 {
		t.Fatalf("%d Retry-After %q: unknown reset, want a 429 without one", res.Status, res.RetryAfter)
	}
	res.Release()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.accts.Lookup("k0").Quotas()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the quota was not asked for after the quota answer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err = p.Do(chatCall("k0", false))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if secs, _ := strconv.Atoi(string(res.RetryAfter)); res.Status != 429 || time.Duration(secs)*time.Second < time.Until(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%d Retry-After %q, want until the reset", res.Status, res.RetryAfter)
	}
}

func TestCopilotQuotaView(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	p := build(t, m, []string{"gho_a", "gho_gone"}, func(c *Config) { c.QuotaEvery = time.Hour })
	var sts []accounts.Status
	deadline := time.Now().Add(5 * time.Second)
	for {
		sts = p.Accounts()
		if !sts[0].QuotaCheckedAt.IsZero() && !sts[1].QuotaCheckedAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no quota report in 5 s: the background check did not run at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	reset := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []accounts.Quota{
		{Name: "chat", RemainingFraction: 1, Unlimited: true, ResetAt: reset},
		{Name: "completions", RemainingFraction: 1, Unlimited: true, ResetAt: reset},
		{Name: "premium_interactions", RemainingFraction: 0.41, Remaining: 123, Limit: 300, ResetAt: reset},
	}
	got := sts[0].Quota
	if len(got) != len(want) {
		t.Fatalf("quotas %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].RemainingFraction != want[i].RemainingFraction || got[i].Remaining != want[i].Remaining ||
			got[i].Limit != want[i].Limit || got[i].Unlimited != want[i].Unlimited || !got[i].ResetAt.Equal(want[i].ResetAt) {
			t.Errorf("quota %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if sts[1].QuotaError == "" || len(sts[1].Quota) != 0 {
		t.Errorf("the refused account: quota %+v error %q, want an error and no figures", sts[1].Quota, sts[1].QuotaError)
	}
}

func TestCopilotModelsFromTheService(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	p := build(t, m, []string{"gho_a"}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for len(p.Models()) == 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := strings.Join(p.Models(), ",")
	if got != "*,gpt-4.1,claude-sonnet-4" {
		t.Fatalf("models %s, want the configured * and the service's chat models", got)
	}
}

// Tokens are traded again in the background before refresh_in, with no
// request waiting for it.
func TestCopilotTokenRefreshedInTheBackground(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}, RefreshIn: time.Second})
	build(t, m, []string{"gho_a"}, func(c *Config) { c.WarmEvery = 100 * time.Millisecond })
	deadline := time.Now().Add(5 * time.Second)
	for m.Exchanges() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d exchanges in 5 s with refresh_in 1 s: no background refresh", m.Exchanges())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(m.Requests()) != 0 {
		t.Fatal("the background refresh sent a chat request")
	}
}

// The Copilot editor plugins' own apps.json serves as it is.
func TestCopilotPluginsAppsFile(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_plugin"}})
	path := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(path, []byte(`{"github.com:Iv1.b507a08c87ecfe98":{"user":"octocat","oauth_token":"gho_plugin","githubAppId":"Iv1.b507a08c87ecfe98"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Open(path, nil, accounts.Options{NonExpiring: true})
	if err != nil {
		t.Fatal(err)
	}
	p := build(t, m, nil, func(c *Config) { c.Accounts = map[string]*accounts.Account{"k0": acct} })
	if st, body := do(t, p, chatCall("k0", false)); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	if sts := p.Accounts(); sts[0].Label != "octocat" || sts[0].LastError != "" {
		t.Fatalf("%+v", sts[0])
	}
}
