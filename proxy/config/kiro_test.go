package config

import (
	"errors"
	"strings"
	"testing"
)

// TestKiroProvider: a kiro provider gets the service's and token
// services' defaults, and its URLs (with {region}) are checked.
func TestKiroProvider(t *testing.T) {
	c, err := Load(Source{Path: writeFile(t, `
server: {api_keys: [own-key]}
providers:
  - {name: k, type: kiro, credentials: /tmp/kiro-auth-token.json, models: [claude-sonnet-4-5]}
`), Required: true})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers[0]
	if !p.IsSubscription() || p.BaseURL != "https://q.us-east-1.amazonaws.com" ||
		p.OAuth.TokenURL != "https://prod.{region}.auth.desktop.kiro.dev/refreshToken" ||
		p.OAuth.OIDCTokenURL != "https://oidc.{region}.amazonaws.com/token" {
		t.Fatalf("defaults %+v", p)
	}
	for _, tc := range []struct{ yaml, key, says string }{
		{`{name: k, type: kiro, models: [m]}`, "providers[0].credentials", "kiro-auth-token.json"},
		{`{name: k, type: kiro, credentials: /x, models: [m], oauth: {oidc_token_url: "ftp://{region}.x"}}`, "providers[0]", "oidc_token_url"},
	} {
		_, err := Load(Source{Path: writeFile(t, "server: {api_keys: [own-key]}\nproviders:\n  - "+tc.yaml+"\n"), Required: true})
		var ps Problems
		if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Message, tc.says) {
			t.Errorf("%s: %v", tc.yaml, err)
		}
	}
}
