package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
)

// A subscription provider whose folder holds no account yet is skipped
// (the reload after its first sign-in serves it); a missing single file
// is still the error it was; a provider's signature changes when an
// account file is added, not when one is rewritten (a token refresh).
func TestSkipReasonAndSignatureFollowAccountFiles(t *testing.T) {
	dir := t.TempDir()
	empty, full := filepath.Join(dir, "empty"), filepath.Join(dir, "full")
	for _, d := range []string{empty, full} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(full, "codex-a.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    config.Provider
		want string
	}{
		{"empty folder", config.Provider{Type: config.TypeCodex, Credentials: empty}, "no account is signed in yet"},
		{"missing folder", config.Provider{Type: config.TypeKiro, Credentials: filepath.Join(dir, "new")}, "no account is signed in yet"},
		{"missing file", config.Provider{Type: config.TypeCodex, Credentials: filepath.Join(dir, "auth.json")}, ""},
		{"an account", config.Provider{Type: config.TypeGeminiCLI, Credentials: full}, ""},
		{"copilot with a token", config.Provider{Type: config.TypeCopilot, Credentials: empty, APIKeys: []string{"gho_x"}}, ""},
		{"no keys", config.Provider{Type: config.TypeOpenAI, APIKeys: []string{""}}, "api_keys are empty"},
		{"keys", config.Provider{Type: config.TypeOpenAI, APIKeys: []string{"sk"}}, ""},
	} {
		got := SkipReason(&c.p)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}

	p := config.Provider{Name: "c", Type: config.TypeCodex, Credentials: full}
	before := providerSig(&p)
	if err := os.WriteFile(filepath.Join(full, "codex-a.json"), []byte(`{"refreshed":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if providerSig(&p) != before {
		t.Error("rewriting an account file changed the provider's signature")
	}
	if err := os.WriteFile(filepath.Join(full, "codex-b.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if providerSig(&p) == before {
		t.Error("a new account file left the provider's signature as it was")
	}
}
