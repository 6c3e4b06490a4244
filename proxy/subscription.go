package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/codeassist"
	"github.com/llmproxy/proxy/providers/codex"
	"github.com/llmproxy/proxy/providers/copilot"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/kiro"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// accountCooldownCap bounds how long a subscription account rests after a
// quota answer: their resets are hours, days (Codex's weekly window) or
// up to a month (Kiro's monthly quota) away, not seconds.
const accountCooldownCap = 32 * 24 * time.Hour

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
	if pc.Credentials == "" {
		return nil, nil // copilot with GitHub tokens in api_keys only
	}
	hc := &http.Client{Timeout: refreshTimeout(pc.OAuth.Timeout)}
	if pc.Type == config.TypeKiro {
		return kiro.LoadAccounts(pc.Credentials, kiro.RefreshConfig{SocialURL: pc.OAuth.TokenURL, OIDCURL: pc.OAuth.OIDCTokenURL, Client: hc}, accounts.Options{})
	}
	ref := &accounts.OAuth{TokenURL: pc.OAuth.TokenURL, ClientID: pc.OAuth.ClientID, ClientSecret: pc.OAuth.ClientSecret, Client: hc}
	return accounts.Load(pc.Credentials, ref, accounts.Options{NonExpiring: pc.Type == config.TypeCopilot})
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
	if w := accounts.PermissionWarning(pc.Credentials); pc.Credentials != "" && w != "" {
		log.Warn("credentials readable by others", zap.String("provider", pc.Name), zap.String("warning", w))
	}
	byKey := make(map[string]*accounts.Account, len(accts))
	keys := make([]keypool.Key, 0, len(accts))
	for _, a := range accts {
		k := "account:" + a.Path
		byKey[k] = a
		keys = append(keys, keypool.Key{Secret: k, Label: a.Label})
	}
	if pc.Type == config.TypeCopilot {
		// GitHub tokens configured in api_keys are accounts too.
		for i, tok := range pc.APIKeys {
			if tok == "" {
				continue
			}
			label := "api_keys[" + strconv.Itoa(i) + "]"
			byKey["account:"+label] = accounts.Static(label, tok)
			keys = append(keys, keypool.Key{Secret: "account:" + label, Label: label})
		}
	}
	if len(keys) == 0 {
		return nil, nil, errors.New("provider " + pc.Name + ": no account could be loaded from " + pc.Credentials)
	}
	conn := upstream.Config{
		Headers: operatorHeaders(pc), ForwardHeaders: pc.ForwardHeaders,
		Name: pc.Name, BaseURL: pc.BaseURL, Models: pc.Models,
		MaxConns: pc.MaxConns, PoolWait: pc.PoolWait, ConnectTimeout: pc.ConnectTimeout,
		FirstByteTimeout: pc.FirstByteTimeout, IdleTimeout: pc.IdleTimeout,
		MaxResponseBytes: pc.MaxResponseBytes, MaxResponseTime: pc.MaxResponseTime,
	}
	switch pc.Type {
	case config.TypeCopilot:
		p, err := copilot.New(copilot.Config{HTTP: conn, Accounts: byKey, TokenURL: pc.Copilot.TokenURL, UserURL: pc.QuotaURL,
			Client: &http.Client{Timeout: refreshTimeout(pc.OAuth.Timeout)}, QuotaEvery: pc.QuotaInterval})
		return p, keys, err
	case config.TypeKiro:
		p, err := kiro.New(kiro.Config{HTTP: conn, Accounts: byKey, UserAgent: pc.Client.UserAgent,
			Client: &http.Client{Timeout: refreshTimeout(pc.OAuth.Timeout)}, QuotaURL: pc.QuotaURL, QuotaEvery: pc.QuotaInterval})
		return p, keys, err
	case config.TypeGeminiCLI, config.TypeAntigravity:
		p, err := codeassist.New(codeassist.Config{HTTP: conn, Accounts: byKey, Project: pc.Project, UserAgent: pc.Client.UserAgent,
			Antigravity: pc.Type == config.TypeAntigravity, FallbackURLs: pc.FallbackBaseURLs, QuotaEvery: pc.QuotaInterval})
		return p, keys, err
	}
	p, err := codex.New(codex.Config{HTTP: conn, Accounts: byKey, Originator: pc.Client.Originator, Version: pc.Client.Version,
		QuotaURL: pc.QuotaURL, QuotaEvery: pc.QuotaInterval})
	return p, keys, err
}

// CheckQuotas asks the upstream of subscription provider pc for every
// account's limits now (`proxy accounts --refresh`), and returns the
// accounts' states with them; tokens are refreshed as a request would.
func CheckQuotas(pc config.Provider, log *zap.Logger) ([]accounts.Status, error) {
	pc.QuotaInterval = -1 // asked once below, not in the background
	p, _, err := buildSubscription(&pc, log)
	if err != nil {
		return nil, err
	}
	closeIt := func() {
		if c, ok := p.(interface{ Close() }); ok {
			c.Close()
		}
	}
	qp, ok := p.(interface {
		accounts.QuotaSource
		AccountList() []*accounts.Account
		Accounts() []accounts.Status
	})
	if !ok {
		closeIt()
		return nil, errors.New("provider " + pc.Name + ": its upstream reports no quota")
	}
	accounts.RefreshQuota(qp.AccountList(), qp, time.Now)
	closeIt() // its background work done, the states are final
	return qp.Accounts(), nil
}
