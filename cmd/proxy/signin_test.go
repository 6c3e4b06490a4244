package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
	"github.com/llmproxy/proxy/proxy/console/consoletest"
	"golang.org/x/crypto/bcrypt"
)

const signinGitHubToken = "gho_signed_in_from_admin_3f9a"

// copilotProxy runs a proxy whose copilot provider has no account yet (its
// folder does not exist: the provider is skipped until a sign-in), beside
// a mock provider of another model.
func copilotProxy(t *testing.T) (p consoleProxy, m *copilotmock.Server, creds string) {
	t.Helper()
	m = copilotmock.Start(t, copilotmock.Options{Pending: 1, DeviceToken: signinGitHubToken})
	dir := t.TempDir()
	creds = filepath.Join(dir, "copilot")
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	clientPort, adminPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`server:
  host: 127.0.0.1
  port: %[1]s
  admin_addr: 127.0.0.1:%[2]s
  api_keys: [config-key]
admin:
  key: %[3]s
  password_hash: %[4]q
providers:
  - name: gh
    type: copilot
    credentials: %[5]s
    models: [gpt-4o-mini]
    oauth: {device_url: %[6]s/login/device/code, token_url: %[6]s/login/oauth/access_token}
    copilot: {token_url: %[6]s/copilot_internal/v2/token}
  - name: mock
    type: mock
    models: [mock-model]
`, clientPort, adminPort, e2eAdminKey, hash, creds, m.URL)
	return runProxy(t, dir, cfg, clientPort, adminPort), m, creds
}

// TestAdminSignInCopilotServes: a running proxy signs the first Copilot
// account in through its admin API (GitHub's device flow, against the mock
// GitHub): the code is shown, the poll runs in the proxy, the account file
// lands 0600 in the provider's folder, the reload serves the provider with
// it, and the account answers a request that was refused before. No token
// appears in any answer of the admin API.
func TestAdminSignInCopilotServes(t *testing.T) {
	p, m, creds := copilotProxy(t)
	a := &adminAPI{t: t, base: p.admin}
	_, _, prov := a.call("GET", "/api/v1/providers", "", asAdmin)
	if !strings.Contains(fmt.Sprint(prov["skipped_providers"]), "gh") {
		t.Fatalf("the provider without an account is not skipped: %v", prov)
	}
	if code, body := clientCall(t, p.client, "config-key", e2eChat); code == 200 {
		t.Fatalf("served before any account was signed in: %s", body)
	}

	code, _, v := a.call("POST", "/api/v1/signins", `{"provider":"gh"}`, asAdmin)
	if code != 201 || v["user_code"] != "WDJB-MJHT" || v["verification_url"] != m.URL+"/login/device" {
		t.Fatalf("start: %d %v", code, v)
	}
	id := v["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for v["state"] == "pending" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		_, _, v = a.call("GET", "/api/v1/signins/"+id, "", asAdmin)
	}
	if v["state"] != "done" || v["error"] != nil {
		t.Fatalf("sign-in: %v", v)
	}
	files, _ := filepath.Glob(filepath.Join(creds, "*.json"))
	if len(files) != 1 || v["file"] != files[0] {
		t.Fatalf("saved %v, status %v", files, v)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("account file: %v %v", err, st)
	}

	_, _, prov = a.call("GET", "/api/v1/providers", "", asAdmin)
	if !strings.Contains(fmt.Sprint(prov), files[0]) {
		t.Fatalf("the new account is not among the provider's: %v", prov)
	}
	if code, body := clientCall(t, p.client, "config-key", e2eChat); code != 200 || m.Exchanges() == 0 {
		t.Fatalf("the signed-in account does not serve: %d %s (%d token exchanges)", code, body, m.Exchanges())
	}
	for _, b := range a.bodies {
		if strings.Contains(b, signinGitHubToken) || strings.Contains(b, "cop-") {
			t.Errorf("a token in an admin answer: %s", b)
		}
	}
}

// TestConsoleSignInCopilot clicks the copilot provider's sign-in button in
// a real headless Chromium: the page shows the one-time code, then the
// signed-in account, which appears in the provider's accounts.
func TestConsoleSignInCopilot(t *testing.T) {
	consoletest.RequireChromium(t)
	p, _, creds := copilotProxy(t)
	b := consoletest.Open(t, p.admin, 2*time.Minute)
	b.SignIn(consolePassword)
	b.WaitFor("the sign-in button", `document.querySelector('#signin tr[data-provider="gh"] button.signin-start')`, 10*time.Second)
	b.Do("sign in", chromedpClick(`#signin tr[data-provider="gh"] button.signin-start`))
	b.WaitFor("the code", `document.querySelector('#signin-code')`, 10*time.Second)
	if got := b.Text("#signin-code"); got != "WDJB-MJHT" {
		t.Errorf("the page shows the code %q", got)
	}
	b.WaitFor("the result", `(document.querySelector('#signin-result') || {}).textContent.includes('Signed in')`, 20*time.Second)
	files, _ := filepath.Glob(filepath.Join(creds, "*.json"))
	if len(files) != 1 {
		t.Fatalf("saved %v", files)
	}
	b.WaitFor("the account in the provider's card", `[...document.querySelectorAll('.provider[data-name="gh"] .accounts tr')].some(r => r.dataset.label === `+fmt.Sprintf("%q", files[0])+`)`, 15*time.Second)
	b.Screenshot("signin-done", "")
}

// chatgptSignIn is a ChatGPT sign-in service (authorize with PKCE, token)
// and backend (the Responses stream) for one account, as far as the
// proxy uses them.
func chatgptSignIn(t *testing.T, access, accountID string) *httptest.Server {
	var mu sync.Mutex
	challenges := map[string]string{}
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"email": "e2e@example.com", "https://api.openai.com/auth": map[string]any{"chatgpt_account_id": accountID}})
	idToken := enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + ".sig"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/authorize":
			q := r.URL.Query()
			mu.Lock()
			challenges["code-e2e"] = q.Get("code_challenge")
			mu.Unlock()
			http.Redirect(w, r, q.Get("redirect_uri")+"?code=code-e2e&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		case "/oauth/token":
			_ = r.ParseForm()
			sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
			mu.Lock()
			want := challenges[r.Form.Get("code")]
			mu.Unlock()
			if want == "" || enc(sum[:]) != want {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			fmt.Fprintf(w, `{"access_token":%q,"refresh_token":"rt-e2e-0c4f","id_token":%q,"expires_in":3600}`, access, idToken)
		case "/backend-api/codex/responses":
			if r.Header.Get("Authorization") != "Bearer "+access || r.Header.Get("chatgpt-account-id") != accountID {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":{"message":"unknown token","code":"token_invalid"}}`)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			msg := `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"output_text","text":"Bonjour"}]}`
			fmt.Fprintf(w, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n"+
				"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Bonjour\"}\n\n"+
				"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":2,\"output_index\":0,\"item\":%s}\n\n"+
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[%s],\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}}\n\n", msg, msg)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// codexProxy runs a proxy whose ChatGPT provider (on chatgptSignIn) has
// no account yet, beside a mock provider of another model; the console
// password is consolePassword.
func codexProxy(t *testing.T, access string) (consoleProxy, string) {
	t.Helper()
	cg := chatgptSignIn(t, access, "acct-e2e")
	dir := t.TempDir()
	creds := filepath.Join(dir, "codex")
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	clientPort, adminPort := freePort(t), freePort(t)
	return runProxy(t, dir, fmt.Sprintf(`server:
  host: 127.0.0.1
  port: %[1]s
  admin_addr: 127.0.0.1:%[2]s
  api_keys: [config-key]
admin:
  key: %[3]s
  password_hash: %[6]q
providers:
  - name: chatgpt
    type: codex
    base_url: %[4]s/backend-api/codex
    credentials: %[5]s
    models: [gpt-5.1-codex]
    oauth: {authorize_url: %[4]s/oauth/authorize, token_url: %[4]s/oauth/token}
  - name: mock
    type: mock
    models: [mock-model]
`, clientPort, adminPort, e2eAdminKey, cg.URL, creds, hash), clientPort, adminPort), creds
}

// TestAdminSignInCodexPasteServes: a running proxy signs its first ChatGPT
// account in through the admin API with the pasted-redirect callback: the
// operator opens the authorize URL, signs in, and pastes the address the
// browser ended on; a pasted address of another sign-in is refused first.
// The account is saved 0600 and serves a request that was refused before.
func TestAdminSignInCodexPasteServes(t *testing.T) {
	const access = "at-e2e-codex-8b2d"
	p, creds := codexProxy(t, access)
	a := &adminAPI{t: t, base: p.admin}
	const chat = `{"model":"gpt-5.1-codex","messages":[{"role":"user","content":"hi"}]}`
	if code, body := clientCall(t, p.client, "config-key", chat); code != 404 || !strings.Contains(body, "no account is signed in yet") {
		t.Fatalf("before any account was signed in: %d %s, want 404 naming the sign-in", code, body)
	}

	code, _, v := a.call("POST", "/api/v1/signins", `{"provider":"chatgpt"}`, asAdmin)
	if code != 201 || v["method"] != "browser" {
		t.Fatalf("start: %d %v", code, v)
	}
	id := v["id"].(string)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(v["authorize_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	redirect := res.Header.Get("Location")
	if !strings.HasPrefix(redirect, v["redirect_prefix"].(string)+"?") {
		t.Fatalf("the browser ends on %q, the console says %q", redirect, v["redirect_prefix"])
	}
	paste := func(u string) (int, map[string]any) {
		b, _ := json.Marshal(map[string]string{"redirect_url": u})
		code, _, v := a.call("POST", "/api/v1/signins/"+id, string(b), asAdmin)
		return code, v
	}
	if code, v := paste(strings.Replace(redirect, "state=", "state=other", 1)); code != 400 {
		t.Fatalf("another sign-in's redirect: %d %v", code, v)
	}
	code, v = paste(redirect)
	if code != 200 || v["state"] != "done" || v["account"] != "e2e@example.com" || v["error"] != nil {
		t.Fatalf("complete: %d %v", code, v)
	}
	if st, err := os.Stat(v["file"].(string)); err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(v["file"].(string)) != creds {
		t.Fatalf("account file %v: %v %v", v["file"], err, st)
	}
	if code, body := clientCall(t, p.client, "config-key", chat); code != 200 || !strings.Contains(body, "Bonjour") {
		t.Fatalf("the signed-in account does not serve: %d %s", code, body)
	}
	for _, b := range a.bodies {
		if strings.Contains(b, access) || strings.Contains(b, "rt-e2e-0c4f") {
			t.Errorf("a token in an admin answer: %s", b)
		}
	}
}

// TestConsoleSignInPastedRedirect: in a real headless Chromium, the
// ChatGPT provider's Sign in button shows the sign-in page's link and a
// box; the address the browser ended on, pasted there, signs the account
// in, and it appears in the provider's card.
func TestConsoleSignInPastedRedirect(t *testing.T) {
	consoletest.RequireChromium(t)
	p, _ := codexProxy(t, "at-console-codex-1d7e")
	b := consoletest.Open(t, p.admin, 2*time.Minute)
	b.SignIn(consolePassword)
	start := `#signin tr[data-provider="chatgpt"] button.signin-start[data-method="browser"]`
	b.WaitFor("the sign-in button", `document.querySelector('`+start+`')`, 10*time.Second)
	b.Do("sign in", chromedpClick(start))
	b.WaitFor("the sign-in link", `document.querySelector('#signin-url')`, 10*time.Second)
	authURL := consoletest.Eval[string](b, `document.querySelector('#signin-url').href`)
	// The operator's browser, in another tab: sign in, end on the redirect.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	redirect := res.Header.Get("Location")
	consoletest.Eval[string](b, `document.querySelector('#signin-redirect').value = `+fmt.Sprintf("%q", redirect))
	b.Do("finish", chromedpClick(`#signin-complete button[type="submit"]`))
	b.WaitFor("the result", `(document.querySelector('#signin-result') || {}).textContent.includes('Signed in: e2e@example.com')`, 15*time.Second)
	b.WaitFor("the account in the provider's card", `document.querySelector('.provider[data-name="chatgpt"] .accounts tr[data-label="e2e@example.com"]')`, 15*time.Second)
	b.Screenshot("signin-pasted", "")
}

// check-config says a subscription provider without an account yet is
// skipped until one is signed in (the proxy starts without it).
func TestCheckConfigProviderAwaitingSignIn(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "proxy.yaml")
	yaml := fmt.Sprintf(`server: {api_keys: [k]}
providers:
  - {name: chatgpt, type: codex, credentials: %s, models: [gpt-5.1-codex]}
  - {name: mock, type: mock, models: [m]}
`, filepath.Join(dir, "codex"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := checkConfig([]string{cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "provider chatgpt will be skipped: no account is signed in yet") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
}
