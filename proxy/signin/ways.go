// Package signin signs subscription accounts in for the providers that use
// them (codex, gemini-cli, antigravity, copilot, kiro): it builds each
// type's sign-in from the provider's configuration, saves the account where
// the provider reads its accounts, and (Manager) runs sign-ins started from
// the admin API, each bounded in time, until they are finished or expire.
// `proxy login` and the admin API share it, so both sign in the same way.
package signin

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/kiro"
	"github.com/llmproxy/proxy/proxy/config"
)

// Methods of signing in.
const (
	// Browser is the authorization-code sign-in with PKCE: the user opens a
	// URL, signs in, and the browser is sent back to a loopback redirect
	// (caught, or its URL pasted back).
	Browser = "browser"
	// Device is a device sign-in: the user types a one-time code at a
	// verification page on any device while this side polls.
	Device = "device"
)

// browserWay is how one subscription type's browser sign-in goes: the
// scopes, the redirect path and the extra authorize parameters.
type browserWay struct {
	scope, path string
	extra       url.Values
}

const googleScopes = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"

// browserWays are the types that sign in in a browser.
var browserWays = map[string]browserWay{
	config.TypeCodex: {"openid profile email offline_access", "/auth/callback",
		url.Values{"id_token_add_organizations": {"true"}, "codex_cli_simplified_flow": {"true"}}},
	// Google returns a refresh token only with offline access and consent.
	config.TypeGeminiCLI:   {googleScopes, "/oauth2callback", url.Values{"access_type": {"offline"}, "prompt": {"consent"}}},
	config.TypeAntigravity: {googleScopes, "/oauth-callback", url.Values{"access_type": {"offline"}, "prompt": {"consent"}}},
}

// Methods are the ways a subscription type signs in, the first the usual
// one; none for a type that is not a subscription.
func Methods(typ string) []string {
	switch typ {
	case config.TypeCodex:
		return []string{Browser, Device}
	case config.TypeGeminiCLI, config.TypeAntigravity:
		return []string{Browser}
	case config.TypeCopilot, config.TypeKiro:
		return []string{Device}
	}
	return nil
}

// Supports says whether typ signs in with method.
func Supports(typ, method string) bool {
	for _, m := range Methods(typ) {
		if m == method {
			return true
		}
	}
	return false
}

// BrowserLogin is provider p's browser sign-in, redirected to the loopback
// port (0: the provider's oauth.redirect_port).
func BrowserLogin(p config.Provider, port int) (*accounts.Login, error) {
	how, ok := browserWays[p.Type]
	if !ok {
		return nil, fmt.Errorf("%s accounts do not sign in in a browser", p.Type)
	}
	if port == 0 {
		port = p.OAuth.RedirectPort
	}
	if p.OAuth.RedirectPath != "" {
		how.path = p.OAuth.RedirectPath
	}
	return &accounts.Login{AuthorizeURL: p.OAuth.AuthorizeURL, TokenURL: p.OAuth.TokenURL, ClientID: p.OAuth.ClientID,
		ClientSecret: p.OAuth.ClientSecret, Scope: how.scope, Extra: how.extra, Port: port, Path: how.path}, nil
}

// CodexDevice is ChatGPT's device-code sign-in for provider p: the issuer
// is the origin of its authorize URL.
func CodexDevice(p config.Provider) (*accounts.DeviceLogin, error) {
	u, err := url.Parse(p.OAuth.AuthorizeURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("oauth.authorize_url %q: no issuer to ask for a device code", p.OAuth.AuthorizeURL)
	}
	return &accounts.DeviceLogin{Issuer: u.Scheme + "://" + u.Host, ClientID: p.OAuth.ClientID, TokenURL: p.OAuth.TokenURL}, nil
}

// GitHubDevice is GitHub's device sign-in (RFC 8628) for the Copilot app.
func GitHubDevice(p config.Provider) *accounts.DeviceFlow {
	return &accounts.DeviceFlow{CodeURL: p.OAuth.DeviceURL, TokenURL: p.OAuth.TokenURL, ClientID: p.OAuth.ClientID, Scope: "read:user"}
}

// KiroDevice is AWS SSO OIDC's device sign-in for a Kiro provider: AWS
// Builder ID, or the IAM Identity Center organisation of startURL.
func KiroDevice(p config.Provider, startURL, region string) *kiro.DeviceLogin {
	return &kiro.DeviceLogin{OIDCTokenURL: p.OAuth.OIDCTokenURL, Region: region, StartURL: startURL}
}

// Folder is where an account of p is saved: dir when given, else p's
// credentials, which must then be a folder (a single file cannot take a
// second account).
func Folder(p config.Provider, dir string) (string, error) {
	if dir != "" {
		return accounts.ExpandHome(dir), nil
	}
	if p.Credentials == "" {
		return "", fmt.Errorf("provider %s has no credentials folder to save an account in: set its credentials", p.Name)
	}
	folder := accounts.ExpandHome(p.Credentials)
	if st, err := os.Stat(folder); err == nil && !st.IsDir() {
		return "", fmt.Errorf("%s is a file, not a folder of accounts", p.Credentials)
	}
	return folder, nil
}

// Save writes a signed-in account (0600, atomically) into folder and
// returns its file and the label the provider will know it by.
func Save(typ, folder string, tok accounts.Tokens, now time.Time) (path, label string, err error) {
	if path, err = accounts.Save(folder, typ, tok, now); err != nil {
		return "", "", err
	}
	return path, Label(path), nil
}

// SaveKiro writes a signed-in Kiro token file into folder.
func SaveKiro(folder string, file []byte, now time.Time) (path, label string, err error) {
	if path, err = kiro.SaveAccount(folder, file, now); err != nil {
		return "", "", err
	}
	return path, Label(path), nil
}

// Label is the name the provider gives the account in file path: its
// email when the file has one, else the file (as accounts.Open names it).
func Label(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	if c, err := accounts.ParseCredential(b); err == nil && c.Email != "" {
		return c.Email
	}
	return path
}

// ErrUnknown is a sign-in that does not exist (or no longer does).
var ErrUnknown = errors.New("no such sign-in")
