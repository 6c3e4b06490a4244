// Package accounts keeps the subscription accounts people already have in
// official CLIs (Codex's ChatGPT sign-in, Gemini CLI's Google sign-in) as
// credentials the proxy can use: one account per JSON file, the CLIs' own
// files accepted as they are, tokens refreshed before they expire (once
// per account, across processes sharing the folder), and every file
// written atomically with owner-only permissions.
package accounts

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Format is the layout of a credential file, kept when the file is
// rewritten so that the official CLI can still read it.
type Format uint8

const (
	// FormatProxy is the proxy's own: {"type", "access_token",
	// "refresh_token", "id_token", "account_id", "email", "expires_at"}.
	FormatProxy Format = iota
	// FormatCodexCLI is Codex CLI's ~/.codex/auth.json: {"tokens":
	// {"id_token", "access_token", "refresh_token", "account_id"},
	// "last_refresh"}; the expiry is the access token's JWT exp.
	FormatCodexCLI
	// FormatGoogle is Gemini CLI's ~/.gemini/oauth_creds.json:
	// {"access_token", "refresh_token", "id_token", "expiry_date" (ms)}.
	FormatGoogle
	// FormatCopilotApps is the GitHub Copilot editor plugins' apps.json
	// (or the older hosts.json): {"github.com[:app id]": {"user",
	// "oauth_token"}}; a GitHub token, which does not expire.
	FormatCopilotApps
	// FormatKiro is the Kiro IDE's ~/.aws/sso/cache/kiro-auth-token.json:
	// {"accessToken", "refreshToken", "expiresAt" (ISO 8601),
	// "profileArn", "authMethod", ...}; the profile ARN is the AccountID.
	FormatKiro
)

// Credential is one account's tokens.
type Credential struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	// AccountID is the upstream's account (ChatGPT's chatgpt-account-id).
	AccountID string
	Email     string
	// Expiry of the access token; zero when unknown (then refreshed first).
	Expiry time.Time
	Format Format
	// raw keeps the file's other fields, written back untouched.
	raw map[string]any
	// appsKey is the entry of an apps.json file the token came from.
	appsKey string
}

// ParseCredential reads a credential file's bytes in any known format.
func ParseCredential(b []byte) (Credential, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return Credential{}, fmt.Errorf("not a JSON object: %w", err)
	}
	c := Credential{raw: raw}
	switch tokens, ok := raw["tokens"].(map[string]any); {
	case ok:
		c.Format = FormatCodexCLI
		c.AccessToken, _ = tokens["access_token"].(string)
		c.RefreshToken, _ = tokens["refresh_token"].(string)
		c.IDToken, _ = tokens["id_token"].(string)
		c.AccountID, _ = tokens["account_id"].(string)
	case raw["expiry_date"] != nil:
		c.Format = FormatGoogle
		c.AccessToken, _ = raw["access_token"].(string)
		c.RefreshToken, _ = raw["refresh_token"].(string)
		c.IDToken, _ = raw["id_token"].(string)
		if ms, ok := raw["expiry_date"].(float64); ok && ms > 0 {
			c.Expiry = time.UnixMilli(int64(ms))
		}
	case raw["accessToken"] != nil || raw["refreshToken"] != nil:
		c.Format = FormatKiro
		c.AccessToken, _ = raw["accessToken"].(string)
		c.RefreshToken, _ = raw["refreshToken"].(string)
		c.AccountID, _ = raw["profileArn"].(string)
		if s, ok := raw["expiresAt"].(string); ok {
			c.Expiry, _ = time.Parse(time.RFC3339Nano, s)
		}
	default:
		c.Format = FormatProxy
		c.AccessToken, _ = raw["access_token"].(string)
		c.RefreshToken, _ = raw["refresh_token"].(string)
		c.IDToken, _ = raw["id_token"].(string)
		c.AccountID, _ = raw["account_id"].(string)
		c.Email, _ = raw["email"].(string)
		if s, ok := raw["expires_at"].(string); ok {
			c.Expiry, _ = time.Parse(time.RFC3339, s)
		}
	}
	if c.RefreshToken == "" && c.AccessToken == "" && c.Format == FormatProxy {
		c.readCopilotApps()
	}
	if c.RefreshToken == "" && c.AccessToken == "" {
		return Credential{}, errors.New("no access_token or refresh_token")
	}
	c.fillFromJWTs()
	return c, nil
}

// readCopilotApps reads the first entry (by key) of a Copilot plugins'
// apps.json that holds an oauth_token.
func (c *Credential) readCopilotApps() {
	keys := make([]string, 0, len(c.raw))
	for k := range c.raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e, ok := c.raw[k].(map[string]any)
		if !ok {
			continue
		}
		if tok, _ := e["oauth_token"].(string); tok != "" {
			c.Format, c.appsKey, c.AccessToken = FormatCopilotApps, k, tok
			c.Email, _ = e["user"].(string)
			return
		}
	}
}

// fillFromJWTs takes what the tokens themselves say: the access token's
// expiry, the ChatGPT account id and the e-mail from the id token.
func (c *Credential) fillFromJWTs() {
	if c.Expiry.IsZero() {
		if claims := jwtClaims(c.AccessToken); claims != nil {
			if exp, ok := claims["exp"].(float64); ok {
				c.Expiry = time.Unix(int64(exp), 0)
			}
		}
	}
	if claims := jwtClaims(c.IDToken); claims != nil {
		if c.Email == "" {
			c.Email, _ = claims["email"].(string)
		}
		if c.AccountID == "" {
			if auth, ok := claims["https://api.openai.com/auth"].(map[string]any); ok {
				c.AccountID, _ = auth["chatgpt_account_id"].(string)
			}
		}
	}
}

// jwtClaims decodes a JWT's payload without verifying it: the proxy only
// reads its own tokens' expiry and account, the upstream checks them.
func jwtClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// Marshal writes c back in its own format, keeping the file's other fields.
func (c *Credential) Marshal(now time.Time) ([]byte, error) {
	raw := map[string]any{}
	for k, v := range c.raw {
		raw[k] = v
	}
	switch c.Format {
	case FormatCodexCLI:
		tokens, _ := raw["tokens"].(map[string]any)
		t := map[string]any{}
		for k, v := range tokens {
			t[k] = v
		}
		t["access_token"], t["refresh_token"], t["id_token"] = c.AccessToken, c.RefreshToken, c.IDToken
		if c.AccountID != "" {
			t["account_id"] = c.AccountID
		}
		raw["tokens"] = t
		raw["last_refresh"] = now.UTC().Format(time.RFC3339Nano)
	case FormatCopilotApps:
		e, _ := raw[c.appsKey].(map[string]any)
		entry := map[string]any{}
		for k, v := range e {
			entry[k] = v
		}
		entry["oauth_token"] = c.AccessToken
		raw[c.appsKey] = entry
	case FormatGoogle:
		raw["access_token"], raw["refresh_token"] = c.AccessToken, c.RefreshToken
		if c.IDToken != "" {
			raw["id_token"] = c.IDToken
		}
		raw["expiry_date"] = c.Expiry.UnixMilli()
	case FormatKiro:
		raw["accessToken"], raw["refreshToken"] = c.AccessToken, c.RefreshToken
		if c.AccountID != "" {
			raw["profileArn"] = c.AccountID
		}
		raw["expiresAt"] = c.Expiry.UTC().Format(time.RFC3339Nano)
	default:
		raw["access_token"], raw["refresh_token"] = c.AccessToken, c.RefreshToken
		if c.IDToken != "" {
			raw["id_token"] = c.IDToken
		}
		if c.AccountID != "" {
			raw["account_id"] = c.AccountID
		}
		if c.Email != "" {
			raw["email"] = c.Email
		}
		if !c.Expiry.IsZero() {
			raw["expires_at"] = c.Expiry.UTC().Format(time.RFC3339)
		}
	}
	return json.MarshalIndent(raw, "", "  ")
}
