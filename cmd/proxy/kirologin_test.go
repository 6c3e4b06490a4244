package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/kiro/kiromock"
)

// TestLoginKiro runs `proxy login kiro` against the mock AWS SSO OIDC:
// the code is printed, the account lands 0600 in the provider's folder,
// and `proxy accounts` lists it.
func TestLoginKiro(t *testing.T) {
	m := kiromock.New()
	defer m.Close()
	m.Pending, m.DeviceAccess = 1, "at-device"
	dir := t.TempDir()
	creds := filepath.Join(dir, "kiro")
	cfg := filepath.Join(dir, "proxy.yaml")
	yaml := fmt.Sprintf(`server: {api_keys: [login-test-key]}
providers:
  - name: kiro
    type: kiro
    credentials: %s
    base_url: %s
    models: ["*"]
    oauth: {token_url: %s/refreshToken, oidc_token_url: %s/token}
`, creds, m.URL(), m.URL(), m.URL())
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := login([]string{"kiro", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "ABCD-EFGH") || !strings.Contains(out.String(), "account saved to") {
		t.Fatalf("output %s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(creds, "kiro-*.json"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	out.Reset()
	errb.Reset()
	if code := listAccounts([]string{"--config", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), files[0]) || !strings.Contains(out.String(), " ok") {
		t.Fatalf("accounts: exit %d: %s %s", code, out.String(), errb.String())
	}
}
