package accounts

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Refresher trades a refresh token for new tokens at the provider's OAuth
// token endpoint. The answer may rotate the refresh token.
type Refresher interface {
	Refresh(refreshToken string) (Tokens, error)
}

// Tokens is a token endpoint's answer.
type Tokens struct {
	AccessToken, RefreshToken, IDToken string
	ExpiresIn                          time.Duration
}

// Account is one credential file.
type Account struct {
	// Path is the file; Label names the account in logs and listings.
	Path  string
	Label string

	refresher   Refresher
	margin      time.Duration
	lockTimeout time.Duration
	now         func() time.Time
	nonExpiring bool

	mu      sync.Mutex
	cred    Credential
	modTime time.Time
	size    int64
	// lastErr is why the account cannot serve (a failed refresh), shown by
	// /health and `proxy accounts`; cleared by the next success.
	lastErr error
	quota   quotaState
}

// Options tune an account's refresh.
type Options struct {
	// Margin refreshes a token this long before it expires (default 5 min).
	Margin time.Duration
	// LockTimeout bounds the wait for another process's refresh (10 s).
	LockTimeout time.Duration
	Now         func() time.Time
	// NonExpiring: a token that states no expiry does not expire (a
	// GitHub OAuth token); one that does is refreshed as usual.
	NonExpiring bool
}

func (o Options) withDefaults() Options {
	if o.Margin <= 0 {
		o.Margin = 5 * time.Minute
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Open reads one credential file.
func Open(path string, r Refresher, o Options) (*Account, error) {
	o = o.withDefaults()
	a := &Account{Path: path, refresher: r, margin: o.Margin, lockTimeout: o.LockTimeout, now: o.Now, nonExpiring: o.NonExpiring}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// load reads the file (the caller holds mu, or the account is new).
func (a *Account) load() error {
	st, err := os.Stat(a.Path)
	if err != nil {
		return fmt.Errorf("credential %s: %w", a.Path, err)
	}
	b, err := os.ReadFile(a.Path)
	if err != nil {
		return fmt.Errorf("credential %s: %w", a.Path, err)
	}
	c, err := ParseCredential(b)
	if err != nil {
		return fmt.Errorf("credential %s: %w", a.Path, err)
	}
	a.cred, a.modTime, a.size = c, st.ModTime(), st.Size()
	a.Label = c.Email
	if a.Label == "" {
		a.Label = a.Path
	}
	return nil
}

// reloadIfChanged re-reads a file another process (or the official CLI)
// rewrote.
func (a *Account) reloadIfChanged() {
	if a.Path == "" {
		return // a Static account
	}
	st, err := os.Stat(a.Path)
	if err != nil || (st.ModTime().Equal(a.modTime) && st.Size() == a.size) {
		return
	}
	if err := a.load(); err != nil {
		a.lastErr = err
	}
}

// Credential returns tokens good for at least the margin, refreshing them
// first if need be (one refresh at a time per account, and per file
// across processes).
func (a *Account) Credential() (Credential, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloadIfChanged()
	if a.fresh() {
		return a.cred, nil
	}
	return a.refreshLocked("", a.margin)
}

// Refreshed forces a refresh after the upstream refused stale, the access
// token it was sent; if another caller already replaced it, that newer
// token is returned without a refresh.
func (a *Account) Refreshed(stale string) (Credential, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloadIfChanged()
	if a.cred.AccessToken != stale && a.fresh() {
		return a.cred, nil
	}
	return a.refreshLocked(stale, a.margin)
}

func (a *Account) fresh() bool { return a.freshFor(a.margin) }

// freshFor reports whether the token is good for at least d.
func (a *Account) freshFor(d time.Duration) bool {
	if a.cred.AccessToken != "" && a.cred.Expiry.IsZero() && a.nonExpiring {
		return true
	}
	return a.cred.AccessToken != "" && !a.cred.Expiry.IsZero() && a.now().Add(d).Before(a.cred.Expiry)
}

// refreshLocked refreshes under the file lock, after re-reading the file:
// another process may have refreshed (and rotated the refresh token) in
// the meantime, and spending the old one would revoke the account.
func (a *Account) refreshLocked(stale string, lead time.Duration) (Credential, error) {
	if a.refresher == nil {
		return a.cred, a.fail(errors.New("the token expired and this provider has no token endpoint to refresh it"))
	}
	l, err := lockFile(a.Path, a.lockTimeout)
	if err != nil {
		return a.cred, a.fail(err)
	}
	defer l.unlock()
	if err := a.load(); err != nil {
		return a.cred, a.fail(err)
	}
	if a.cred.AccessToken != stale && a.freshFor(lead) {
		a.lastErr = nil
		return a.cred, nil // refreshed by another process
	}
	if a.cred.RefreshToken == "" {
		return a.cred, a.fail(errors.New("no refresh_token: sign in again (proxy login)"))
	}
	t, err := a.refresher.Refresh(a.cred.RefreshToken)
	if err != nil {
		return a.cred, a.fail(fmt.Errorf("refresh: %w", err))
	}
	now := a.now()
	c := a.cred
	c.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		c.RefreshToken = t.RefreshToken
	}
	if t.IDToken != "" {
		c.IDToken = t.IDToken
	}
	c.Expiry = time.Time{}
	if t.ExpiresIn > 0 {
		c.Expiry = now.Add(t.ExpiresIn)
	}
	c.fillFromJWTs()
	if c.Expiry.IsZero() {
		c.Expiry = now.Add(time.Hour) // neither the answer nor the token says
	}
	b, err := c.Marshal(now)
	if err != nil {
		return a.cred, a.fail(err)
	}
	if err := writeAtomic(a.Path, b); err != nil {
		// The new tokens are good but unsaved: keep them in memory, and
		// say so, since a restart would spend the rotated refresh token.
		a.cred = c
		return c, a.fail(err)
	}
	a.cred = c
	if st, err := os.Stat(a.Path); err == nil {
		a.modTime, a.size = st.ModTime(), st.Size()
	}
	a.lastErr = nil
	return c, nil
}

// Fail marks the account as unable to serve, with the reason /health and
// `proxy accounts` show, until Recover (a provider whose own token
// exchange failed).
func (a *Account) Fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.fail(err)
}

// Recover clears a failure set by Fail once the account serves again.
func (a *Account) Recover() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastErr = nil
}

// Static is an account whose token was configured rather than read from a
// file (a GitHub token in api_keys): never reloaded, never refreshed.
func Static(label, token string) *Account {
	o := Options{}.withDefaults()
	return &Account{Label: label, margin: o.Margin, lockTimeout: o.LockTimeout, now: o.Now, nonExpiring: true,
		cred: Credential{AccessToken: token, Format: FormatProxy}}
}

func (a *Account) fail(err error) error {
	a.lastErr = fmt.Errorf("account %s: %w", a.Label, err)
	return a.lastErr
}

// Status is what /health and `proxy accounts` show of an account.
type Status struct {
	Label     string    `json:"label"`
	Path      string    `json:"path"`
	Expiry    time.Time `json:"expiry"`
	LastError string    `json:"last_error,omitempty"`
	// Quota is the upstream's last report of the account's limits (where
	// the upstream reports any), asked for in the background.
	Quota          []Quota   `json:"quota,omitempty"`
	QuotaCheckedAt time.Time `json:"quota_checked_at,omitzero"`
	QuotaError     string    `json:"quota_error,omitempty"`
}

// Status reports the account's state, never its tokens.
func (a *Account) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{Label: a.Label, Path: a.Path, Expiry: a.cred.Expiry}
	if a.lastErr != nil {
		s.LastError = a.lastErr.Error()
	}
	s.Quota, s.QuotaCheckedAt, s.QuotaError = a.quota.quotas, a.quota.at, a.quota.err
	return s
}

// warm refreshes the token now if it expires within lead (more than the
// request-time margin), so that requests rarely wait on a refresh.
func (a *Account) warm(lead time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloadIfChanged()
	if a.freshFor(lead) {
		return
	}
	_, _ = a.refreshLocked("", lead) // a failure is kept as the account's status
}

// KeepFresh refreshes, every interval and in the background, the accounts
// whose token expires within lead. Call stop to end it.
func KeepFresh(accts []*Account, interval, lead time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			for _, a := range accts {
				select {
				case <-done:
					return
				default:
				}
				a.warm(lead)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}
