package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	if _, err := os.Stat(consoletest.Chromium); err != nil {
		t.Skipf("browser test skipped: %s is missing (Debian package chromium; .ci/run installs it)", consoletest.Chromium)
	}
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
