package codex

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

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
)

// backend imitates the ChatGPT backend's Responses endpoint: it checks the
// rules the real one enforces (token, account id, store:false, stream,
// instructions, list input) and answers a short stream, or what the test
// scripts.
type backend struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []map[string]any
	headers []http.Header
	token   string // the access token it accepts
	answer  func(w http.ResponseWriter) bool
}

const completedStream = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n" +
	"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"Hello\"}\n\n" +
	"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}}\n\n"

func newBackend(t *testing.T, token string) *backend {
	b := &backend{token: token}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		b.mu.Lock()
		b.seen = append(b.seen, body)
		b.headers = append(b.headers, r.Header.Clone())
		tok := b.token
		answer := b.answer
		b.mu.Unlock()
		if r.URL.Path != "/backend-api/codex/responses" {
			w.WriteHeader(404)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+tok {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"message":"token expired","type":"invalid_request_error","code":"token_expired"}}`)
			return
		}
		_, isList := body["input"].([]any)
		_, hasInstr := body["instructions"]
		if r.Header.Get("chatgpt-account-id") != "acct-1" || body["store"] != false || body["stream"] != true || !hasInstr || !isList {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"message":"backend rule broken: %s","type":"invalid_request_error"}}`, raw)
			return
		}
		if answer != nil && answer(w) {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, completedStream)
	}))
	t.Cleanup(b.Close)
	return b
}

// tokens is a token endpoint that hands out at-N tokens.
func tokens(t *testing.T) *httptest.Server {
	n := 0
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-%d","expires_in":3600}`, n, n)
		mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func newProvider(t *testing.T, base, tokenURL, access string, expiry time.Time) (*Provider, *accounts.Account) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.json")
	cred := fmt.Sprintf(`{"type":"codex","access_token":%q,"refresh_token":"rt-0","account_id":"acct-1","email":"a@example.com","expires_at":%q}`,
		access, expiry.UTC().Format(time.RFC3339))
	if err := os.WriteFile(p, []byte(cred), 0o600); err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Open(p, &accounts.OAuth{TokenURL: tokenURL, ClientID: "cli"}, accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := New(Config{
		HTTP: upstream.Config{Name: "codex", BaseURL: base + "/backend-api/codex", Models: []string{"gpt-5.1-codex"},
			ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second},
		Accounts: map[string]*accounts.Account{"acct:a": acct},
		Version:  "0.169.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	return prov, acct
}

func call(stream bool, body string) *providers.Call {
	return &providers.Call{Op: providers.OpGenerate, Model: "gpt-5.1-codex", Stream: stream, Body: []byte(body),
		Ingress: wire.OpenAIResponses, Key: "acct:a"}
}

func TestBackendRulesAndAssembly(t *testing.T) {
	b := newBackend(t, "at-live")
	prov, _ := newProvider(t, b.URL, tokens(t).URL, "at-live", time.Now().Add(time.Hour))
	// A non-stream client with a string input and no instructions.
	res, err := prov.Do(call(false, `{"model":"gpt-5.1-codex","input":"hi","store":true,"prompt_cache_key":"sess-9"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if res.Status != 200 || res.Stream != nil || !strings.Contains(string(res.Body), `"output_text"`) || !strings.HasPrefix(string(res.Body), `{"id":"resp_1"`) {
		t.Fatalf("assembled answer %d %s", res.Status, res.Body)
	}
	h := b.headers[0]
	if h.Get("originator") != DefaultOriginator || h.Get("version") != "0.169.0" || h.Get("session_id") != "sess-9" {
		t.Errorf("headers %v", h)
	}
	// A stream client gets the stream.
	res2, err := prov.Do(call(true, `{"model":"gpt-5.1-codex","input":[{"role":"user","content":"hi"}],"instructions":"x"}`))
	if err != nil || res2.Stream == nil {
		t.Fatalf("stream: %v %+v", err, res2)
	}
	all, _ := io.ReadAll(res2.Stream)
	res2.Release()
	if !strings.Contains(string(all), "response.completed") {
		t.Errorf("stream %s", all)
	}
}

// TestExpiredTokenRefreshesAndRetries: the backend refuses the token (it
// expired early); the account is refreshed once and the same request goes
// again, successfully.
func TestExpiredTokenRefreshesAndRetries(t *testing.T) {
	b := newBackend(t, "at-1")
	prov, acct := newProvider(t, b.URL, tokens(t).URL, "at-stale", time.Now().Add(time.Hour))
	res, err := prov.Do(call(true, `{"model":"m","input":"hi"}`))
	if err != nil || res.Status != 200 {
		t.Fatalf("%v %+v", err, res)
	}
	res.Release()
	if len(b.seen) != 2 || acct.Status().LastError != "" {
		t.Fatalf("calls %d, account %+v", len(b.seen), acct.Status())
	}
}

func TestQuotaCoolsTheAccountUntilReset(t *testing.T) {
	b := newBackend(t, "at-live")
	b.answer = func(w http.ResponseWriter) bool {
		w.WriteHeader(429)
		fmt.Fprint(w, `{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_in_seconds":5400}}`)
		return true
	}
	prov, _ := newProvider(t, b.URL, tokens(t).URL, "at-live", time.Now().Add(time.Hour))
	res, err := prov.Do(call(true, `{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if res.Status != 429 || string(res.RetryAfter) != "5400" {
		t.Fatalf("status %d retry-after %q", res.Status, res.RetryAfter)
	}
}

func TestBrokenAccountIsRefusedAsCredential(t *testing.T) {
	b := newBackend(t, "at-live")
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"refresh token revoked"}`)
	}))
	t.Cleanup(dead.Close)
	prov, acct := newProvider(t, b.URL, dead.URL, "at-old", time.Now().Add(-time.Hour))
	res, err := prov.Do(call(true, `{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 401 || !wire.CredentialRejected(wire.OpenAIResponses, res.Status, res.Body) {
		t.Fatalf("answer %d %s: want a rejected credential", res.Status, res.Body)
	}
	if len(b.seen) != 0 {
		t.Error("a request went upstream with an expired token")
	}
	if st := acct.Status(); !strings.Contains(st.LastError, "refresh token revoked") {
		t.Errorf("status %+v", st)
	}
	if prov.State().Status != "down" {
		t.Errorf("state %+v with no usable account", prov.State())
	}
}
