package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
)

// `proxy login copilot` runs GitHub's device sign-in against the mock
// GitHub: the code and page are printed, the token lands 0600 in the
// provider's folder; `proxy accounts` lists it, and with --refresh shows
// its quotas as GitHub reports them.
func TestLoginCopilotAndAccountsRefresh(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{Pending: 1, DeviceToken: "gho_signed_in"})
	dir := t.TempDir()
	creds := filepath.Join(dir, "copilot")
	cfg := filepath.Join(dir, "proxy.yaml")
	yaml := fmt.Sprintf(`server: {api_keys: [login-test-key]}
providers:
  - name: gh
    type: copilot
    credentials: %[1]s
    models: ["*"]
    oauth: {device_url: %[2]s/login/device/code, token_url: %[2]s/login/oauth/access_token}
    copilot: {token_url: %[2]s/copilot_internal/v2/token}
    quota_url: %[2]s/copilot_internal/user
`, creds, m.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := login([]string{"copilot", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "WDJB-MJHT") || !strings.Contains(out.String(), m.URL+"/login/device") {
		t.Fatalf("the code and page are not shown: %s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(creds, "copilot-*.json"))
	if len(files) != 1 {
		t.Fatalf("saved files %v", files)
	}
	st, err := os.Stat(files[0])
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("account file %v mode %v", err, st.Mode())
	}
	if b, _ := os.ReadFile(files[0]); !strings.Contains(string(b), `"access_token": "gho_signed_in"`) {
		t.Fatalf("account file %s", b)
	}

	out.Reset()
	errb.Reset()
	if code := listAccounts([]string{"--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("accounts: exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), files[0]) || strings.Contains(out.String(), "QUOTA") {
		t.Fatalf("accounts (files only): %s", out.String())
	}
	if !strings.Contains(out.String(), " ok") {
		t.Fatalf("a GitHub token without an expiry is not expired: %s", out.String())
	}

	out.Reset()
	if code := listAccounts([]string{"--config", cfg, "--refresh"}, &out, &errb); code != 0 {
		t.Fatalf("accounts --refresh: exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"QUOTA", "premium_interactions 123/300 left, resets ", "chat unlimited"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("accounts --refresh lacks %q:\n%s", want, out.String())
		}
	}
}

// check-config accepts a copilot provider with GitHub tokens in api_keys
// only, and reads a credentials folder like the other subscription types.
func TestCheckConfigCopilot(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(creds, "torn.json"), []byte(`{"access_to`), 0o600)
	_ = os.WriteFile(filepath.Join(creds, "apps.json"), []byte(`{"github.com:Iv1.x":{"user":"octocat","oauth_token":"gho_x"}}`), 0o600)
	cfg := filepath.Join(dir, "c.yaml")
	_ = os.WriteFile(cfg, []byte("server: {auth: \"off\"}\nproviders:\n  - {name: gh, type: copilot, api_keys: [gho_configured], models: [\"*\"]}\n"+
		"  - {name: gh2, type: copilot, credentials: "+creds+", models: [gpt-4.1]}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"check-config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "torn.json") || strings.Contains(out.String(), "apps.json") || strings.Contains(out.String(), "will be skipped") {
		t.Fatalf("check-config:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"accounts", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("accounts: %d %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"api_keys[0]", "(configured)", "octocat"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("accounts lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "gho_") {
		t.Fatal("a token in the listing")
	}
}
