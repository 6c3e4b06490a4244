package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginWithDeviceCode runs `proxy login codex --device` against a mock
// ChatGPT issuer: the one-time code is printed, the poll succeeds once the
// issuer says so, the code is exchanged, and the account lands 0600 in the
// provider's credentials folder.
func TestLoginWithDeviceCode(t *testing.T) {
	polls := 0
	var iss *httptest.Server
	iss = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/accounts/deviceauth/usercode":
			fmt.Fprint(w, `{"device_auth_id":"dev-1","usercode":"WXYZ-0000","interval":"0"}`)
		case "/api/accounts/deviceauth/token":
			if polls++; polls < 2 {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			fmt.Fprint(w, `{"authorization_code":"c","code_challenge":"x","code_verifier":"v"}`)
		case "/oauth/token":
			_ = r.ParseForm()
			if r.Form.Get("redirect_uri") != iss.URL+"/deviceauth/callback" || r.Form.Get("code_verifier") != "v" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			fmt.Fprint(w, `{"access_token":"at-dev","refresh_token":"rt-dev","expires_in":3600}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer iss.Close()
	dir := t.TempDir()
	creds := filepath.Join(dir, "accounts")
	cfg := filepath.Join(dir, "proxy.yaml")
	yaml := fmt.Sprintf(`server: {api_keys: [login-test-key]}
providers:
  - name: chatgpt
    type: codex
    credentials: %s
    models: ["*"]
    oauth: {authorize_url: %s/oauth/authorize, token_url: %s/oauth/token}
`, creds, iss.URL, iss.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := login([]string{"codex", "--device", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "WXYZ-0000") || !strings.Contains(out.String(), iss.URL+"/codex/device") {
		t.Errorf("the code and page were not shown: %s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(creds, "*.json"))
	if len(files) != 1 {
		t.Fatalf("saved %v", files)
	}
	st, _ := os.Stat(files[0])
	b, _ := os.ReadFile(files[0])
	if st.Mode().Perm() != 0o600 || !strings.Contains(string(b), "at-dev") || !strings.Contains(string(b), "rt-dev") {
		t.Errorf("account file %s (%v): %s", files[0], st.Mode(), b)
	}
}
