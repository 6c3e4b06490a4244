package proxy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
)

// chatgptBackend answers like the ChatGPT backend for one account token.
func chatgptBackend(t *testing.T, token, account string) (base string, seen func() []string) {
	var mu sync.Mutex
	var auths []string
	stream := "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n" +
		"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Bonjour\"}\n\n" +
		"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":3,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Bonjour\"}]}}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Bonjour\"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}}\n\n"
	srv := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("chatgpt-account-id") != account {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"message":"unknown token","code":"token_invalid"}}`)
			return
		}
		if !strings.Contains(string(b), `"store":false`) || !strings.Contains(string(b), `"stream":true`) {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"message":"rules: %s"}}`, b)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), auths...) }
}

// TestCodexAccountsServeEveryClient: ChatGPT accounts from a credentials
// folder serve Chat and Anthropic clients, streamed and not; an account
// whose token cannot be refreshed is skipped for the good one.
func TestCodexAccountsServeEveryClient(t *testing.T) {
	base, seen := chatgptBackend(t, "at-live", "acct-live")
	tokenURL := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
	}))
	dir := t.TempDir()
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a-expired.json", `{"type":"codex","email":"old@example.com","access_token":"at-dead","refresh_token":"rt","account_id":"acct-dead","expires_at":"2000-01-01T00:00:00Z"}`)
	write("b-live.json", `{"type":"codex","email":"live@example.com","access_token":"at-live","refresh_token":"rt","account_id":"acct-live","expires_at":"`+exp+`"}`)
	p := config.Provider{Name: "chatgpt", Type: config.TypeCodex, BaseURL: base + "/backend-api/codex", Credentials: dir,
		Models: []string{"gpt-5.1-codex"}, OAuth: config.OAuth{TokenURL: tokenURL + "/token"},
		ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	_, url := startFaultProxy(t, baseConfig(p))
	hc := httpClient(t)
	for i := range 4 {
		res, out := do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"gpt-5.1-codex","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
		if res.StatusCode != 200 || !strings.Contains(string(out), "Bonjour") {
			t.Fatalf("chat %d: %d %s", i, res.StatusCode, out)
		}
	}
	res, out := do(t, hc, "POST", url+"/v1/messages", `{"model":"gpt-5.1-codex","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
	if res.StatusCode != 200 || !strings.Contains(string(out), "Bonjour") || !strings.Contains(string(out), "message_stop") {
		t.Fatalf("anthropic stream: %d %s", res.StatusCode, out)
	}
	for _, a := range seen() {
		if a != "Bearer at-live" {
			t.Errorf("the backend saw %q: an account whose refresh failed was used", a)
		}
	}
	res, out = do(t, hc, "GET", url+"/health", "", nil)
	if res.StatusCode != 200 || strings.Contains(string(out), "at-live") || strings.Contains(string(out), `"rt"`) {
		t.Errorf("health leaks a token: %s", out)
	}
	if !strings.Contains(string(out), `"accounts":[`) || !strings.Contains(string(out), "invalid_grant") || !strings.Contains(string(out), "live@example.com") {
		t.Errorf("health does not show the accounts and why one is out: %s", out)
	}
}

// TestGeminiCLIAccountsServeEveryClient: a Gemini CLI account (its own
// oauth_creds.json) serves OpenAI and Gemini clients through Code Assist,
// the project found once and the envelope added and removed.
func TestGeminiCLIAccountsServeEveryClient(t *testing.T) {
	var mu sync.Mutex
	var generations int
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer g-live" {
			w.WriteHeader(401)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, ":loadCodeAssist"):
			io.WriteString(w, `{"cloudaicompanionProject":"org-proj"}`)
		case strings.Contains(r.URL.Path, "GenerateContent") || strings.Contains(r.URL.Path, "generateContent"):
			mu.Lock()
			generations++
			mu.Unlock()
			if !strings.Contains(string(b), `"project":"org-proj"`) || !strings.Contains(string(b), `"model":"gemini-2.5-pro"`) {
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":{"code":400,"message":"envelope %s","status":"INVALID_ARGUMENT"}}`, b)
				return
			}
			chunk := `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hallo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}`
			if r.URL.Query().Get("alt") == "sse" {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "data: {\"response\":%s}\n\n", chunk)
				return
			}
			fmt.Fprintf(w, `{"response":%s}`, chunk)
		default:
			w.WriteHeader(404)
		}
	}))
	cred := filepath.Join(t.TempDir(), "oauth_creds.json")
	if err := os.WriteFile(cred, []byte(fmt.Sprintf(`{"access_token":"g-live","refresh_token":"r","expiry_date":%d}`, time.Now().Add(time.Hour).UnixMilli())), 0o600); err != nil {
		t.Fatal(err)
	}
	p := config.Provider{Name: "gcli", Type: config.TypeGeminiCLI, BaseURL: base, Credentials: cred, Models: []string{"gemini-2.5-pro"},
		ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	_, url := startFaultProxy(t, baseConfig(p))
	hc := httpClient(t)
	res, out := do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"gemini-2.5-pro","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
	if res.StatusCode != 200 || !strings.Contains(string(out), "Hallo") {
		t.Fatalf("chat: %d %s", res.StatusCode, out)
	}
	res, out = do(t, hc, "POST", url+"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
		map[string]string{"x-goog-api-key": testKey})
	if res.StatusCode != 200 || !strings.Contains(string(out), `data: {"candidates"`) {
		t.Fatalf("gemini stream: %d %s", res.StatusCode, out)
	}
	if generations != 2 {
		t.Errorf("%d generations reached Code Assist", generations)
	}
}

// TestEveryAccountOutOfQuota: when every account answered its quota is
// used up, the client gets 429 with a Retry-After of the earliest reset,
// and no further request reaches the backend until then.
func TestEveryAccountOutOfQuota(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	resets := map[string]int{"Bearer at-a": 7200, "Bearer at-b": 5400}
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		calls[auth]++
		mu.Unlock()
		w.WriteHeader(429)
		fmt.Fprintf(w, `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_in_seconds":%d}}`, resets[auth])
	}))
	dir := t.TempDir()
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, n := range []string{"a", "b"} {
		body := `{"type":"codex","email":"` + n + `@example.com","access_token":"at-` + n + `","refresh_token":"rt","account_id":"acct","expires_at":"` + exp + `"}`
		if err := os.WriteFile(filepath.Join(dir, n+".json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// No background quota check: the test counts the generations that
	// reach the backend.
	p := config.Provider{Name: "chatgpt", Type: config.TypeCodex, BaseURL: base + "/backend-api/codex", Credentials: dir,
		Models: []string{"gpt-5.1-codex"}, ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		QuotaInterval: -1}
	_, url := startFaultProxy(t, baseConfig(p))
	hc := httpClient(t)
	body := `{"model":"gpt-5.1-codex","messages":[{"role":"user","content":"hi"}]}`
	res, out := do(t, hc, "POST", url+"/v1/chat/completions", body, bearer(testKey))
	if res.StatusCode != 429 {
		t.Fatalf("status %d %s", res.StatusCode, out)
	}
	res, out = do(t, hc, "POST", url+"/v1/chat/completions", body, bearer(testKey))
	ra := res.Header.Get("Retry-After")
	if res.StatusCode != 429 || ra == "" {
		t.Fatalf("second request: %d Retry-After %q %s", res.StatusCode, ra, out)
	}
	var secs int
	fmt.Sscan(ra, &secs)
	// The key pool spreads cooldowns by up to a quarter (jitter), so that
	// accounts reset together are not all retried in the same second.
	if secs < 5400 || secs > 5400*5/4 {
		t.Errorf("Retry-After %d s, want the earliest reset (5400 s) plus at most its jitter", secs)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["Bearer at-a"] != 1 || calls["Bearer at-b"] != 1 {
		t.Errorf("backend calls %v: each account once, then both rest until their reset", calls)
	}
}

// TestAccountsFallBackToAPIKeys: a subscription provider sits in a
// fallback chain with an API-key provider. When every ChatGPT account is
// out of quota, the request is served by the next provider of the chain,
// and while the accounts rest no further request reaches their backend.
func TestAccountsFallBackToAPIKeys(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(429)
		fmt.Fprint(w, `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_in_seconds":3600}}`)
	}))
	dir := t.TempDir()
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	body := `{"type":"codex","email":"a@example.com","access_token":"at-a","refresh_token":"rt","account_id":"acct","expires_at":"` + exp + `"}`
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := config.Provider{Name: "chatgpt", Type: config.TypeCodex, BaseURL: base + "/backend-api/codex", Credentials: dir,
		Models: []string{"gpt-5.1-codex"}, ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		QuotaInterval: -1}
	cfg := baseConfig(p, mockProvider("spare", 4, "gpt-4o-mini"))
	cfg.Fallbacks = map[string][]string{"gpt-5.1-codex": {"spare/gpt-4o-mini"}}
	_, url := startFaultProxy(t, cfg)
	hc := httpClient(t)
	for i := range 3 {
		res, out := do(t, hc, "POST", url+"/v1/chat/completions", `{"model":"gpt-5.1-codex","messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
		if res.StatusCode != 200 || !strings.Contains(string(out), `"model":"gpt-4o-mini"`) {
			t.Fatalf("request %d: %d %s, want the fallback's answer", i, res.StatusCode, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("the ChatGPT backend was called %d times: once, then the account rests until its reset", calls)
	}
}
