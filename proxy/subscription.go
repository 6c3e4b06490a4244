package proxy

import (
	"errors"
	"net/http"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/codeassist"
	"github.com/llmproxy/proxy/providers/codex"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/kiro"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// accountCooldownCap bounds how long a subscription account rests after a
// quota answer: their resets are hours or days away, not seconds.
const accountCooldownCap = 8 * 24 * time.Hour

// refreshTimeout bounds a call to the token endpoint: a request waiting
// for its account's refresh must not wait for a hung endpoint.
func refreshTimeout(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return 15 * time.Second
}

// LoadAccounts opens a subscription provider's account files with the
// refresh of its type (a file that cannot be read is an error naming it).
func LoadAccounts(pc *config.Provider) ([]*accounts.Account, []error) {
	hc := &http.Client{Timeout: refreshTimeout(pc.OAuth.Timeout)}
	if pc.Type == config.TypeKiro {
		return kiro.LoadAccounts(pc.Credentials, kiro.RefreshConfig{SocialURL: pc.OAuth.TokenURL, OIDCURL: pc.OAuth.OIDCTokenURL, Client: hc}, accounts.Options{})
	}
	ref := &accounts.OAuth{TokenURL: pc.OAuth.TokenURL, ClientID: pc.OAuth.ClientID, ClientSecret: pc.OAuth.ClientSecret, Client: hc}
	return accounts.Load(pc.Credentials, ref, accounts.Options{})
}

// buildSubscription loads a subscription provider's accounts and builds
// the provider; the accounts become the keys of its pool, leased like API
// keys (weights, concurrency, cooldown until the quota resets). A file
// that cannot be read is logged with its name and the others serve.
func buildSubscription(pc *config.Provider, log *zap.Logger) (providers.Provider, []keypool.Key, error) {
	accts, errs := LoadAccounts(pc)
	for _, err := range errs {
		log.Warn("account not loaded", zap.String("provider", pc.Name), zap.Error(err))
	}
	if w := accounts.PermissionWarning(pc.Credentials); w != "" {
		log.Warn("credentials readable by others", zap.String("provider", pc.Name), zap.String("warning", w))
	}
	if len(accts) == 0 {
		return nil, nil, errors.New("provider " + pc.Name + ": no account could be loaded from " + pc.Credentials)
	}
	byKey := make(map[string]*accounts.Account, len(accts))
	keys := make([]keypool.Key, 0, len(accts))
	for _, a := range accts {
		k := "account:" + a.Path
		byKey[k] = a
		keys = append(keys, keypool.Key{Secret: k, Label: a.Label})
	}
	conn := upstream.Config{
		Headers: operatorHeaders(pc), ForwardHeaders: pc.ForwardHeaders,
		Name: pc.Name, BaseURL: pc.BaseURL, Models: pc.Models,
		MaxConns: pc.MaxConns, PoolWait: pc.PoolWait, ConnectTimeout: pc.ConnectTimeout,
		FirstByteTimeout: pc.FirstByteTimeout, IdleTimeout: pc.IdleTimeout,
		MaxResponseBytes: pc.MaxResponseBytes, MaxResponseTime: pc.MaxResponseTime,
	}
	if pc.Type == config.TypeGeminiCLI || pc.Type == config.TypeAntigravity {
		p, err := codeassist.New(codeassist.Config{HTTP: conn, Accounts: byKey, Project: pc.Project, UserAgent: pc.Client.UserAgent,
			Antigravity: pc.Type == config.TypeAntigravity, FallbackURLs: pc.FallbackBaseURLs})
		return p, keys, err
	}
	if pc.Type == config.TypeKiro {
		p, err := kiro.New(kiro.Config{HTTP: conn, Accounts: byKey, UserAgent: pc.Client.UserAgent})
		return p, keys, err
	}
	p, err := codex.New(codex.Config{HTTP: conn, Accounts: byKey, Originator: pc.Client.Originator, Version: pc.Client.Version})
	return p, keys, err
}
