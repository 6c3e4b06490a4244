package codeassist

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/upstream"
)

// TestAntigravityDialectAndFallback: the first base is out of quota, the
// next one answers; the request carries Antigravity's envelope and rules.
func TestAntigravityDialectAndFallback(t *testing.T) {
	var mu sync.Mutex
	var envs []map[string]any
	full := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(429)
		fmt.Fprint(w, `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`)
	}))
	t.Cleanup(full.Close)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env map[string]any
		_ = json.Unmarshal(b, &env)
		mu.Lock()
		envs = append(envs, env)
		mu.Unlock()
		fmt.Fprint(w, `{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}]}}`)
	}))
	t.Cleanup(ok.Close)
	p := filepath.Join(t.TempDir(), "oauth_creds.json")
	_ = os.WriteFile(p, []byte(fmt.Sprintf(`{"access_token":"at-live","refresh_token":"rt","expiry_date":%d}`, time.Now().Add(time.Hour).UnixMilli())), 0o600)
	acct, err := accounts.Open(p, nil, accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := New(Config{
		HTTP: upstream.Config{Name: "ag", BaseURL: full.URL, Models: []string{"gemini-3-pro"},
			ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second},
		Accounts: map[string]*accounts.Account{"acct:g": acct}, Project: "ag-proj",
		Antigravity: true, FallbackURLs: []string{ok.URL}, UserAgent: "antigravity/1.104.0 darwin/arm64",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	c := call(false)
	c.Model = "gemini-3-pro"
	c.Body = []byte(`{"contents":[{"role":"user","parts":[{"text":"first question"}]}],"safetySettings":[{"category":"x"}],
		"generationConfig":{"maxOutputTokens":100,"thinkingConfig":{"thinkingBudget":200}}}`)
	res, err := prov.Do(c)
	if err != nil || res.Status != 200 || !strings.HasPrefix(string(res.Body), `{"candidates"`) {
		t.Fatalf("%v %+v", err, res)
	}
	res.Release()
	if len(envs) != 1 {
		t.Fatalf("fallback base got %d requests", len(envs))
	}
	env := envs[0]
	req := env["request"].(map[string]any)
	gc := req["generationConfig"].(map[string]any)
	if env["userAgent"] != "antigravity" || env["requestType"] != "agent" || env["project"] != "ag-proj" ||
		!strings.HasPrefix(env["requestId"].(string), "agent-") {
		t.Errorf("envelope %v", env)
	}
	if _, has := req["safetySettings"]; has {
		t.Error("safetySettings reached Antigravity")
	}
	if _, has := gc["maxOutputTokens"]; has {
		t.Error("maxOutputTokens reached Antigravity")
	}
	if gc["thinkingConfig"].(map[string]any)["thinkingBudget"] != 1024.0 {
		t.Errorf("thinking budget %v, want raised to 1024", gc["thinkingConfig"])
	}
	sid, _ := req["sessionId"].(string)
	if !strings.HasPrefix(sid, "-") || sid != sessionIDOf(t, "first question") {
		t.Errorf("sessionId %q", sid)
	}
}

func sessionIDOf(t *testing.T, text string) string {
	b, _ := antigravityRequest([]byte(`{"contents":[{"role":"user","parts":[{"text":"` + text + `"}]}]}`))
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m["sessionId"].(string)
}
