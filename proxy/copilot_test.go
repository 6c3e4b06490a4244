package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
	"github.com/llmproxy/proxy/proxy/config"
)

// copilotConfig is a copilot provider on the mock GitHub and Copilot API,
// one account per GitHub token in api_keys.
func copilotConfig(m *copilotmock.Server, tokens ...string) config.Provider {
	p := openaiProvider("gh", m.URL+"/unused", "gpt-4.1")
	p.Type, p.APIKeys = config.TypeCopilot, tokens
	p.Copilot.TokenURL, p.QuotaURL = m.URL+"/copilot_internal/v2/token", m.URL+"/copilot_internal/user"
	return p
}

// The API's own answers (whole, and streamed with its empty-choices first
// chunk) reach a client of every protocol, converted.
func TestCopilotRecordedAnswersEveryIngress(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	_, url := startProxy(t, baseConfig(copilotConfig(m, "gho_a")))
	hc := httpClient(t)
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		end              string // the protocol's end of a stream
	}{
		{"chat", "/v1/chat/completions", `{"model":"gpt-4.1",` + msgs, bearer(testKey), "data: [DONE]"},
		{"responses", "/v1/responses", `{"model":"gpt-4.1","input":"hi"`, bearer(testKey), "response.completed"},
		{"anthropic", "/v1/messages", `{"model":"gpt-4.1","max_tokens":64,` + msgs, map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}, "message_stop"},
		{"gemini", "/v1beta/models/gpt-4.1:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]`, map[string]string{"x-goog-api-key": testKey}, `"finishReason":"STOP"`},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			path, body := tc.path, tc.body
			switch {
			case stream && tc.name == "gemini":
				path = "/v1beta/models/gpt-4.1:streamGenerateContent?alt=sse"
			case stream:
				body += `,"stream":true`
			}
			res, out := do(t, hc, "POST", url+path, body+"}", tc.hdr)
			text := string(out)
			if res.StatusCode != 200 || !strings.Contains(text, "Hello") || !strings.Contains(text, "Copilot.") {
				t.Fatalf("%s stream=%v: %d %s", tc.name, stream, res.StatusCode, out)
			}
			if stream && !strings.Contains(text, tc.end) {
				t.Fatalf("%s stream: no %s in %s", tc.name, tc.end, out)
			}
		}
	}
}

// An account out of quota and one whose GitHub token was revoked, among
// healthy ones: every request is served by the healthy ones; the
// exhausted account is asked once and then rests until its monthly reset
// (from the quota view); /health shows each account's quota and why the
// revoked one cannot serve.
func TestCopilotQuotaAccountsAmongHealthy(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_ok1", "gho_ok2", "gho_out"}})
	m.Exhaust("gho_out")
	pc := copilotConfig(m, "gho_ok1", "gho_out", "gho_revoked", "gho_ok2")
	pc.QuotaInterval = time.Hour // the first check runs at start
	_, url := startProxy(t, baseConfig(pc))
	hc := httpClient(t)

	health := func() (accts []accounts.Status, keys []map[string]any) {
		res, out := do(t, hc, "GET", url+"/health", "", nil)
		var h struct {
			Providers []struct {
				Accounts  []accounts.Status `json:"accounts"`
				KeyStates []map[string]any  `json:"key_states"`
			} `json:"providers"`
		}
		if err := json.Unmarshal(out, &h); err != nil || len(h.Providers) != 1 {
			t.Fatalf("/health %d %s: %v", res.StatusCode, out, err)
		}
		return h.Providers[0].Accounts, h.Providers[0].KeyStates
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		sts, _ := health()
		checked := 0
		for _, s := range sts {
			if !s.QuotaCheckedAt.IsZero() {
				checked++
			}
		}
		if checked == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quota not checked for every account in 5 s: %+v", sts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 12 {
		res, out := do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
		if res.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, out)
		}
	}
	if n := m.QuotaRefusals(); n != 1 {
		t.Fatalf("the exhausted account was asked %d times, want once", n)
	}
	sts, keys := health()
	byLabel := map[string]accounts.Status{}
	for _, s := range sts {
		byLabel[s.Label] = s
	}
	premium := func(s accounts.Status) (accounts.Quota, bool) {
		for _, q := range s.Quota {
			if q.Name == "premium_interactions" {
				return q, true
			}
		}
		return accounts.Quota{}, false
	}
	if q, ok := premium(byLabel["api_keys[0]"]); !ok || q.Remaining != 123 || q.Limit != 300 || q.ResetAt.IsZero() {
		t.Errorf("healthy account's quota %+v", byLabel["api_keys[0]"].Quota)
	}
	if q, ok := premium(byLabel["api_keys[1]"]); !ok || !q.Exhausted() {
		t.Errorf("exhausted account's quota %+v", byLabel["api_keys[1]"].Quota)
	}
	if s := byLabel["api_keys[2]"]; !strings.Contains(s.LastError, "proxy login copilot") {
		t.Errorf("revoked account: last_error %q", s.LastError)
	}
	for _, k := range keys {
		if k["label"] == "api_keys[1]" {
			until, _ := time.Parse(time.RFC3339Nano, k["cooldown_until"].(string))
			if time.Until(until) < 24*time.Hour {
				t.Errorf("the exhausted account rests until %v: want days (its reset, capped), not a short backoff", until)
			}
		}
	}
}

// With models ["*"], the service's chat models join the proxy's listings
// once the provider has read them.
func TestCopilotModelsInTheListing(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_a"}})
	pc := copilotConfig(m, "gho_a")
	pc.Models = []string{"*"}
	_, url := startProxy(t, baseConfig(pc, mockProvider("local", 3, "mock-gpt")))
	hc := httpClient(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, all := do(t, hc, "GET", url+"/v1/models", "", bearer(testKey))
		_, own := do(t, hc, "GET", url+"/gh/v1/models", "", bearer(testKey))
		if strings.Contains(string(all), `"claude-sonnet-4"`) && strings.Contains(string(all), `"mock-gpt"`) && strings.Contains(string(own), `"gpt-4.1"`) {
			if strings.Contains(string(all), "text-embedding-3-small") {
				t.Fatalf("an embeddings model listed for chat: %s", all)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service's models not listed in 5 s: %s / %s", all, own)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
