package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/kiro/kiromock"
	"github.com/llmproxy/proxy/proxy/config"
)

// kiroFixture starts the mock Kiro service, sets it up (before the proxy
// starts: its background quota checks call the mock at once), and starts
// a proxy with one kiro provider on the token files given (name → body),
// serving claude-sonnet-4-5.
func kiroFixture(t *testing.T, files map[string]string, setup func(m *kiromock.Mock)) (*kiromock.Mock, string) {
	t.Helper()
	m := kiromock.New()
	t.Cleanup(m.Close)
	setup(m)
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := config.Provider{Name: "kiro", Type: config.TypeKiro, BaseURL: m.URL(), Credentials: dir,
		Models: []string{"claude-sonnet-4-5"}, OAuth: config.OAuth{TokenURL: m.URL() + "/refreshToken", OIDCTokenURL: m.URL() + "/token"},
		ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	_, url := startFaultProxy(t, baseConfig(p))
	return m, url
}

func kiroToken(access string) string {
	return `{"accessToken":"` + access + `","refreshToken":"rt-` + access + `","expiresAt":"` + time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339) +
		`","authMethod":"social","provider":"Github","profileArn":"arn:aws:codewhisperer:us-east-1:1:profile/P"}`
}

// TestKiroSDKs: the official OpenAI (Chat and Responses), Anthropic and
// Google GenAI SDKs through a kiro provider, plain and streamed: a text answer, a
// tool call, and the turn answering it.
func TestKiroSDKs(t *testing.T) {
	m, url := kiroFixture(t, map[string]string{"kiro-auth-token.json": kiroToken("at-1")}, func(m *kiromock.Mock) {
		m.Valid["at-1"] = true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []matrixClient{newChatClient(t, url), newResponsesClient(t, url), newAnthropicClient(t, url), newGenAIClient(t, url)} {
		for _, stream := range []bool{false, true} {
			name := c.name + map[bool]string{false: "/plain", true: "/stream"}[stream]
			t.Run(name, func(t *testing.T) {
				got, err := c.ask(t, ctx, query{model: "claude-sonnet-4-5", stream: stream, prompt: "hi"})
				if err != nil || got.text != "Hello from Kiro." || got.finish != c.textFinish || got.in == 0 || got.out == 0 {
					t.Fatalf("text turn: %+v %v", got, err)
				}
				got, err = c.ask(t, ctx, query{model: "claude-sonnet-4-5", stream: stream, prompt: "Weather in Paris?", tools: true})
				if err != nil || len(got.calls) != 1 || got.calls[0].name != "get_weather" || got.calls[0].args["city"] != "Paris" || got.finish != c.toolFinish {
					t.Fatalf("tool turn: %+v %v", got, err)
				}
				got, err = c.ask(t, ctx, query{model: "claude-sonnet-4-5", stream: stream, prompt: "Weather in Paris?", tools: true, results: got.calls})
				if err != nil || got.text != "It is sunny in Paris." || len(got.calls) != 0 {
					t.Fatalf("result turn: %+v %v", got, err)
				}
			})
		}
	}
	m.Lock()
	defer m.Unlock()
	for _, b := range m.Bodies {
		if !strings.Contains(string(b), `"modelId":"claude-sonnet-4.5"`) {
			t.Fatalf("model id not mapped: %s", b)
		}
	}
}

// TestKiroBrokenStreams: a cut, corrupt or exception-ending answer
// reaches a streaming client as its protocol's error event, and a
// whole-answer client as an error status.
func TestKiroBrokenStreams(t *testing.T) {
	for _, fault := range []kiromock.Fault{kiromock.FaultTruncate, kiromock.FaultCRC, kiromock.FaultException} {
		t.Run(string(fault), func(t *testing.T) {
			_, url := kiroFixture(t, map[string]string{"kiro-auth-token.json": kiroToken("at-1")}, func(m *kiromock.Mock) {
				m.Valid["at-1"] = true
				m.Fault = fault
			})
			hc := httpClient(t)
			res, out := doCut(t, hc, url+"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
				map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
			if res.StatusCode != 200 || !strings.Contains(string(out), "event: error") || strings.Contains(string(out), "message_stop") {
				t.Fatalf("anthropic stream: %d %s", res.StatusCode, out)
			}
			res, out = doCut(t, hc, url+"/v1/chat/completions", `{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
			if res.StatusCode != 200 || !strings.Contains(string(out), `"error"`) || strings.Contains(string(out), "[DONE]") {
				t.Fatalf("chat stream: %d %s", res.StatusCode, out)
			}
			res, out = do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
			if res.StatusCode < 500 || !strings.Contains(string(out), `"error"`) {
				t.Fatalf("chat: %d %s", res.StatusCode, out)
			}
		})
	}
}

// doCut posts body and reads the answer up to its end or its cut (a
// broken stream ends with the error event, then the connection closes).
func doCut(t *testing.T, hc *http.Client, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, out
}

// TestKiroAccountOutOfQuota: among healthy accounts, one whose monthly
// quota is spent is rested; every request is served by the others.
func TestKiroAccountOutOfQuota(t *testing.T) {
	m, url := kiroFixture(t, map[string]string{"a.json": kiroToken("at-a"), "b.json": kiroToken("at-b"), "c.json": kiroToken("at-c")}, func(m *kiromock.Mock) {
		m.Valid["at-a"], m.Valid["at-c"] = true, true
		m.Quota["at-b"] = true
	})
	hc := httpClient(t)
	for i := range 9 {
		res, out := do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
		if res.StatusCode != 200 || !strings.Contains(string(out), "Hello from Kiro.") {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, out)
		}
	}
	m.Lock()
	defer m.Unlock()
	quota := 0
	for _, tok := range m.Tokens {
		if tok == "at-b" {
			quota++
		}
	}
	if quota > 1 {
		t.Fatalf("the account out of quota was tried %d times (tokens %v): it should rest until the reset", quota, m.Tokens)
	}
	// It rests until the quota's reset, the first of next month (UTC),
	// not a day at a time.
	now := time.Now().UTC()
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	res, out := do(t, hc, "GET", url+"/health", "", nil)
	var h struct {
		Providers []struct {
			KeyStates []struct {
				CooldownUntil time.Time `json:"cooldown_until"`
			} `json:"key_states"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(out, &h); err != nil || len(h.Providers) != 1 {
		t.Fatalf("/health %d %s: %v", res.StatusCode, out, err)
	}
	resting := 0
	for _, k := range h.Providers[0].KeyStates {
		if k.CooldownUntil.IsZero() {
			continue
		}
		resting++
		if k.CooldownUntil.Before(reset.Add(-time.Minute)) {
			t.Errorf("the account rests until %v, want the reset %v", k.CooldownUntil, reset)
		}
	}
	if resting != 1 {
		t.Errorf("%d accounts rest, want the one out of quota: %s", resting, out)
	}
}

// TestKiroRevokedAccountSkipped: an account whose token expired and
// whose refresh token is revoked is refused; requests go to the other.
func TestKiroRevokedAccountSkipped(t *testing.T) {
	_, url := kiroFixture(t, map[string]string{"a.json": kiroToken("at-a"), "b.json": kiroToken("at-b")}, func(m *kiromock.Mock) {
		m.Expired["at-a"] = true // and rt-at-a is not refreshable
		m.Valid["at-b"] = true
	})
	hc := httpClient(t)
	for i := range 4 {
		res, out := do(t, hc, "POST", url+"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
		if res.StatusCode != 200 || !strings.Contains(string(out), "Hello from Kiro.") {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, out)
		}
	}
	res, out := do(t, hc, "GET", url+"/health", "", nil)
	if res.StatusCode != 200 || strings.Contains(string(out), "rt-at-") || strings.Contains(string(out), `"at-b"`) ||
		!strings.Contains(string(out), "Invalid refresh token") {
		t.Fatalf("health: %s", out)
	}
}

// TestKiroThrottledAndFailingAccounts: accounts answering 429 or 5xx
// pass the request to another account; the client never sees them.
func TestKiroThrottledAndFailingAccounts(t *testing.T) {
	m, url := kiroFixture(t, map[string]string{"a.json": kiroToken("at-a"), "b.json": kiroToken("at-b"), "c.json": kiroToken("at-c")}, func(m *kiromock.Mock) {
		m.Valid["at-a"], m.Valid["at-b"], m.Valid["at-c"] = true, true, true
		m.Status["at-a"], m.Status["at-b"] = 429, 503
	})
	hc := httpClient(t)
	for i := range 6 {
		res, out := do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
		if res.StatusCode != 200 || !strings.Contains(string(out), "Hello from Kiro.") {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, out)
		}
	}
	m.Lock()
	defer m.Unlock()
	served := 0
	for _, tok := range m.Tokens {
		if tok == "at-c" {
			served++
		}
	}
	if served != 6 || len(m.Tokens) == 6 {
		t.Fatalf("tokens %v: the good account should serve all 6 after the others refused", m.Tokens)
	}
}

// TestKiroThrottledInStream: an account whose answer is a
// ThrottlingException frame before any event is treated as a 429: the
// request goes to another account, streamed or not.
func TestKiroThrottledInStream(t *testing.T) {
	m, url := kiroFixture(t, map[string]string{"a.json": kiroToken("at-a"), "b.json": kiroToken("at-b")}, func(m *kiromock.Mock) {
		m.Valid["at-a"], m.Valid["at-b"] = true, true
		m.TokenFault["at-a"] = kiromock.FaultThrottled
	})
	hc := httpClient(t)
	for i := range 4 {
		stream := i%2 == 1
		body := `{"model":"claude-sonnet-4-5","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"messages":[{"role":"user","content":"hi"}]}`
		res, out := do(t, hc, "POST", url+"/v1/chat/completions", body, bearer(testKey))
		if res.StatusCode != 200 || !strings.Contains(string(out), "Kiro.") || strings.Contains(string(out), "Rate exceeded") {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, out)
		}
	}
	m.Lock()
	defer m.Unlock()
	if len(m.Tokens) == 4 {
		t.Fatalf("tokens %v: the throttled account was never tried", m.Tokens)
	}
}

// TestKiroQuotaView: the accounts' monthly credits, asked of the
// service's getUsageLimits in the background, show in /health with what
// is left and when it resets; an account out of quota shows exhausted.
func TestKiroQuotaView(t *testing.T) {
	_, url := kiroFixture(t, map[string]string{"a.json": kiroToken("at-a"), "b.json": kiroToken("at-b")}, func(m *kiromock.Mock) {
		m.Valid["at-a"], m.Valid["at-b"] = true, true
		m.Usage["at-a"] = 250.5
		m.Quota["at-b"] = true
	})
	hc := httpClient(t)
	now := time.Now().UTC()
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, out := do(t, hc, "GET", url+"/health", "", nil)
		var h struct {
			Providers []struct {
				Accounts []accounts.Status `json:"accounts"`
			} `json:"providers"`
		}
		if err := json.Unmarshal(out, &h); err != nil || len(h.Providers) != 1 {
			t.Fatalf("/health %d %s: %v", res.StatusCode, out, err)
		}
		byLabel := map[string][]accounts.Quota{}
		for _, s := range h.Providers[0].Accounts {
			if len(s.Quota) > 0 {
				byLabel[s.Label] = s.Quota
			}
		}
		if len(byLabel) == 2 {
			for label, qs := range byLabel {
				q := qs[0]
				if len(qs) != 1 || q.Name != "Credit" || q.Limit != 1000 || !q.ResetAt.Equal(reset) {
					t.Errorf("%s: quota %+v, want 1000 credits resetting %v", label, qs, reset)
				}
				switch {
				case strings.HasSuffix(label, "/a.json"):
					if q.Remaining != 749.5 || q.Exhausted() {
						t.Errorf("account a: %+v, want 749.5 left", q)
					}
				case !q.Exhausted():
					t.Errorf("account b (out of quota): %+v, want exhausted", q)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("quotas not shown for both accounts in 5 s: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
