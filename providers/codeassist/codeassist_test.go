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

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/providers/wire"
)

// codeAssist imitates Google's Code Assist API: discovery (a new account
// has no project until onboarding finishes, which takes two polls) and
// generation that checks the envelope.
type codeAssist struct {
	*httptest.Server
	mu       sync.Mutex
	polls    int
	requests []map[string]any
	refuse   int // status for discovery calls (an individual account: 403)
	quota    bool
}

func newCodeAssist(t *testing.T) *codeAssist {
	ca := &codeAssist{}
	ca.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-live" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":401,"message":"invalid token","status":"UNAUTHENTICATED"}}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		ca.mu.Lock()
		defer ca.mu.Unlock()
		switch r.URL.Path {
		case "/v1internal:loadCodeAssist":
			if ca.refuse != 0 {
				w.WriteHeader(ca.refuse)
				fmt.Fprint(w, `{"error":{"code":403,"message":"This account is not eligible for Code Assist","status":"PERMISSION_DENIED"}}`)
				return
			}
			fmt.Fprint(w, `{"allowedTiers":[{"id":"free-tier"},{"id":"standard-tier","isDefault":true}]}`)
		case "/v1internal:onboardUser":
			var body map[string]any
			_ = json.Unmarshal(b, &body)
			if body["tierId"] != "standard-tier" {
				w.WriteHeader(400)
				return
			}
			ca.polls++
			if ca.polls < 2 {
				fmt.Fprint(w, `{"name":"op-1","done":false}`)
				return
			}
			fmt.Fprint(w, `{"name":"op-1","done":true,"response":{"cloudaicompanionProject":{"id":"proj-42"}}}`)
		case "/v1internal:generateContent", "/v1internal:streamGenerateContent":
			var env map[string]any
			_ = json.Unmarshal(b, &env)
			ca.requests = append(ca.requests, env)
			req, _ := env["request"].(map[string]any)
			if env["project"] != "proj-42" || env["model"] != "gemini-2.5-pro" || req["contents"] == nil {
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":{"code":400,"message":"bad envelope %s","status":"INVALID_ARGUMENT"}}`, b)
				return
			}
			if ca.quota {
				w.WriteHeader(429)
				fmt.Fprint(w, `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.4s"}]}}`)
				return
			}
			chunk := `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hallo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}`
			if strings.HasSuffix(r.URL.Path, "streamGenerateContent") && r.URL.Query().Get("alt") == "sse" {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "data: {\"response\":%s,\"traceId\":\"t1\"}\n\n", chunk)
				return
			}
			fmt.Fprintf(w, `{"response":%s,"traceId":"t1"}`, chunk)
		case "/v1internal:retrieveUserQuota", "/v1internal:fetchAvailableModels":
			var body map[string]any
			_ = json.Unmarshal(b, &body)
			if body["project"] != "proj-42" {
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":{"code":400,"message":"bad project in %s","status":"INVALID_ARGUMENT"}}`, b)
				return
			}
			file := "testdata/retrieve_user_quota.json"
			if strings.HasSuffix(r.URL.Path, "fetchAvailableModels") {
				file = "testdata/fetch_available_models.json"
			}
			ans, _ := os.ReadFile(file)
			w.Write(ans)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(ca.Close)
	return ca
}

func provider(t *testing.T, base string) *Provider {
	t.Helper()
	p := filepath.Join(t.TempDir(), "oauth_creds.json")
	exp := time.Now().Add(time.Hour).UnixMilli()
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"access_token":"at-live","refresh_token":"rt","token_type":"Bearer","expiry_date":%d}`, exp)), 0o600); err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Open(p, nil, accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := New(Config{
		HTTP: upstream.Config{Name: "gcli", BaseURL: base, Models: []string{"gemini-2.5-pro"},
			ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second},
		Accounts:    map[string]*accounts.Account{"acct:g": acct},
		OnboardPoll: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prov.Close)
	return prov
}

func call(stream bool) *providers.Call {
	return &providers.Call{Op: providers.OpGenerate, Model: "gemini-2.5-pro", Stream: stream, Key: "acct:g", Ingress: wire.Gemini,
		Body: []byte(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)}
}

func TestDiscoveryEnvelopeAndUnwrap(t *testing.T) {
	ca := newCodeAssist(t)
	p := provider(t, ca.URL)
	res, err := p.Do(call(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || !strings.HasPrefix(string(res.Body), `{"candidates"`) {
		t.Fatalf("answer %d %s", res.Status, res.Body)
	}
	res.Release()
	res, err = p.Do(call(true))
	if err != nil || res.Stream == nil {
		t.Fatalf("stream: %v %+v", err, res)
	}
	all, _ := io.ReadAll(res.Stream)
	res.Release()
	if !strings.HasPrefix(string(all), `data: {"candidates"`) || strings.Contains(string(all), "traceId") {
		t.Fatalf("stream events keep their envelope: %q", all)
	}
	if ca.polls != 2 {
		t.Errorf("onboarding polled %d times; the project is found once per account", ca.polls)
	}
}

func TestQuotaDelayBecomesRetryAfter(t *testing.T) {
	ca := newCodeAssist(t)
	ca.quota = true
	res, err := provider(t, ca.URL).Do(call(true))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if res.Status != 429 || string(res.RetryAfter) != "3" {
		t.Fatalf("status %d retry-after %q", res.Status, res.RetryAfter)
	}
}

func TestIndividualAccountRefusedClearly(t *testing.T) {
	ca := newCodeAssist(t)
	ca.refuse = 403
	res, err := provider(t, ca.URL).Do(call(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 403 || !wire.CredentialRejected(wire.Gemini, res.Status, res.Body) ||
		!strings.Contains(string(res.Body), "individual accounts") || !strings.Contains(string(res.Body), "not eligible") {
		t.Fatalf("answer %d %s", res.Status, res.Body)
	}
	if len(ca.requests) != 0 {
		t.Error("a generation was sent without a project")
	}
}

func TestCountTokensLocally(t *testing.T) {
	ca := newCodeAssist(t)
	c := call(false)
	c.Op = providers.OpCountTokens
	res, err := provider(t, ca.URL).Do(c)
	if err != nil || res.Status != 200 || !strings.HasPrefix(string(res.Body), `{"totalTokens":`) {
		t.Fatalf("%v %+v", err, res)
	}
}
