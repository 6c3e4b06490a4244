package proxy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/admission"
	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/catalog"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/metrics"
	"github.com/llmproxy/proxy/proxy/redact"
	"github.com/llmproxy/proxy/proxy/sysprompt"
	"go.uber.org/zap"
)

// snapshot is everything a configuration determines. The server holds it
// behind an atomic pointer that a reload swaps; each request loads it once
// and keeps using that one, so a request never sees two configurations.
type snapshot struct {
	cfg      *config.Config
	registry *providers.Registry
	keys     *keyring
	redactor *redact.Redactor
	// redactBytes is redactor.Bytes as a func value, made once: a method
	// value taken per stream is an allocation per stream.
	redactBytes func(dst, b []byte) []byte
	modelsBody  []byte
	// liveModels: a provider's model list changes after start (copilot's,
	// from its service), so the list is rendered at each request.
	liveModels bool
	ups        map[string]*upState
	// fallbacks maps a model to the targets tried after its own provider.
	fallbacks map[string][]retry.Target
	// chains holds the whole chain of each listed provider/model pair,
	// built once so that a request for a listed model allocates none.
	chains map[string]map[string][]retry.Target
	lim    *admission.Limiter
	policy retry.Policy
	// aliases map public model names to provider/model targets.
	aliases map[string]string
	// sysPrompt is the operator's system prompt ("" for none).
	sysPrompt string
	sysMode   sysprompt.Mode
	// active counts requests that went to a provider and have not finished
	// (streams included): a retired snapshot closes its providers at zero.
	active  atomic.Int64
	retired atomic.Bool
	// skipped maps each model of a provider skipped (no keys, no account
	// yet) to that provider and why, so a request for it is told.
	skipped map[string]string
	// catalogs holds each provider's model catalog (limits and prices).
	catalogs map[string]*catalog.Catalog
	// cache is the response cache; nil when nothing is cached.
	cache *cachePolicy
}

// upState is one provider with its reliability state. It is carried over
// unchanged by a reload that leaves the provider's configuration as it was,
// so that key health, cooldowns and the breaker survive the reload.
type upState struct {
	name string
	prov providers.Provider
	// pool leases the provider's keys; nil for providers without keys (mock).
	pool *keypool.Pool
	// br is nil when the breaker is disabled.
	br  *breaker.Breaker
	sem *admission.Sem
	// sig is the provider's configuration, to tell whether a reload changed it.
	sig      string
	checker  *healthChecker
	closing  sync.Once
	firstEvt time.Duration
	total    time.Duration
}

// newSnapshot builds the snapshot of cfg, reusing from prev (may be nil) the
// providers whose configuration did not change.
func newSnapshot(cfg *config.Config, log *zap.Logger, m *metrics.Set, prev *snapshot) (*snapshot, error) {
	snap := &snapshot{
		cfg:       cfg,
		keys:      clientKeys(cfg),
		aliases:   cfg.Aliases,
		redactor:  redact.New(secrets(cfg)),
		ups:       map[string]*upState{},
		fallbacks: map[string][]retry.Target{},
		policy: retry.Policy{
			MaxAttempts: cfg.Retry.MaxAttempts,
			PerTarget:   cfg.Retry.PerTarget,
			BaseBackoff: cfg.Retry.BaseBackoff,
			MaxBackoff:  cfg.Retry.MaxBackoff,
			MaxTotal:    cfg.Retry.MaxTotal,
		},
	}
	snap.redactBytes = snap.redactor.Bytes
	var err error
	if snap.sysPrompt, snap.sysMode, err = loadSystemPrompt(cfg.SystemPrompt); err != nil {
		return nil, err
	}
	var list []providers.Provider
	for i := range cfg.Providers {
		pc := &cfg.Providers[i]
		if why := SkipReason(pc); why != "" {
			log.Warn("provider skipped: "+why, zap.String("provider", pc.Name), zap.Strings("models", pc.Models))
			if snap.skipped == nil {
				snap.skipped = map[string]string{}
			}
			for _, m := range pc.Models {
				if _, taken := snap.skipped[m]; !taken {
					snap.skipped[m] = quote(pc.Name) + ", which is skipped: " + why
				}
			}
			continue
		}
		sig := providerSig(pc)
		if prev != nil {
			if old := prev.ups[pc.Name]; old != nil && old.sig == sig {
				if old.pool != nil {
					// A reload is how an operator says "I fixed the
					// account": keys the upstream rejected get another try.
					old.pool.ClearRejections()
				}
				snap.ups[pc.Name] = old
				list = append(list, old.prov)
				continue
			}
		}
		up, err := newUpState(pc, sig, log, m)
		if err != nil {
			snap.closeNew(prev)
			return nil, err
		}
		snap.ups[pc.Name] = up
		list = append(list, up.prov)
	}
	if len(list) == 0 {
		return nil, errors.New("no usable provider: every provider was skipped for lack of keys")
	}
	snap.catalogs = buildCatalogs(cfg)
	snap.registry = providers.NewRegistry(list)
	snap.modelsBody = renderModels(list, aliasNames(cfg))
	for _, p := range list {
		if lp, ok := p.(interface{ LiveModels() bool }); ok && lp.LiveModels() {
			snap.liveModels = true
		}
	}
	snap.addFallbacks(cfg)
	snap.chains = map[string]map[string][]retry.Target{}
	for _, p := range list {
		byModel := map[string][]retry.Target{}
		for _, m := range p.Models() {
			if m != "*" {
				byModel[m] = snap.buildChain(nil, routed{provider: p, model: m})
			}
		}
		snap.chains[p.Name()] = byModel
	}
	lo := admission.LimiterOptions{MaxRequests: cfg.Server.MaxConcurrentRequests, MaxStreams: cfg.Server.MaxConcurrentStreams}
	if prev != nil && prev.cfg.Server.MaxConcurrentRequests == lo.MaxRequests && prev.cfg.Server.MaxConcurrentStreams == lo.MaxStreams {
		// The same limiter keeps counting the requests still running on the old snapshot.
		snap.lim = prev.lim
	} else {
		snap.lim = admission.NewLimiter(lo)
	}
	snap.cache = newCachePolicy(cfg, snap, prev)
	return snap, nil
}

func newUpState(pc *config.Provider, sig string, log *zap.Logger, m *metrics.Set) (*upState, error) {
	if pc.IsSubscription() {
		return newSubscriptionState(pc, sig, log, m)
	}
	p, err := buildProvider(pc)
	if err != nil {
		return nil, err
	}
	up := &upState{name: pc.Name, prov: p, sig: sig, firstEvt: pc.FirstByteTimeout, total: pc.Timeouts.Total}
	var keys []keypool.Key
	if pc.Type != config.TypeMock {
		for i, k := range pc.APIKeys {
			if k == "" {
				continue
			}
			key := keypool.Key{Secret: k}
			if i < len(pc.KeyOptions) {
				o := pc.KeyOptions[i]
				key.Weight, key.MaxConcurrent, key.Label = o.Weight, o.MaxConcurrent, o.Label
			}
			if key.Label == "" {
				key.Label = "key#" + fmt.Sprint(i)
			}
			keys = append(keys, key)
		}
		up.pool = keypool.New(keys, keypool.Options{})
	}
	up.finish(pc, log, m)
	if pc.HealthCheck.Interval > 0 && up.pool != nil {
		if hc, ok := p.(keyChecker); ok {
			up.checker = startHealthChecker(pc.Name, hc, up.pool, keys, pc.HealthCheck, log)
		}
	}
	return up, nil
}

// addFallbacks resolves the fallback chains: top-level entries win over a
// provider's own for the same model.
func (snap *snapshot) addFallbacks(cfg *config.Config) {
	add := func(model string, chain []string) {
		var ts []retry.Target
		for _, t := range chain {
			prov, m, _ := strings.Cut(t, "/")
			if snap.ups[prov] == nil {
				continue // validated; a provider skipped for lack of keys
			}
			ts = append(ts, retry.Target{Provider: prov, Model: m})
		}
		snap.fallbacks[model] = ts
	}
	for i := range cfg.Providers {
		for model, chain := range cfg.Providers[i].Fallbacks {
			add(model, chain)
		}
	}
	for model, chain := range cfg.Fallbacks {
		add(model, chain)
	}
}

// chain returns the targets for a routed request: its own provider and
// model first, then the model's fallbacks.
func (snap *snapshot) chain(r routed) []retry.Target {
	if c, ok := snap.chains[r.provider.Name()][r.model]; ok {
		return c
	}
	return snap.buildChain(nil, r)
}

// chainFor is chain without the providers the client may not use (a
// virtual key's allow-list holds for fallbacks too). chain's slice may be
// the snapshot's own: it is copied only when something is left out.
func (snap *snapshot) chainFor(c *client, r routed) []retry.Target {
	all := snap.chain(r)
	if c == nil || c.vk == nil {
		return all
	}
	for i, t := range all {
		if c.allowsProvider(t.Provider) {
			continue
		}
		out := append(make([]retry.Target, 0, len(all)-1), all[:i]...)
		for _, t := range all[i+1:] {
			if c.allowsProvider(t.Provider) {
				out = append(out, t)
			}
		}
		return out
	}
	return all
}

// buildChain appends r's chain to dst (the same pair twice is left out).
func (snap *snapshot) buildChain(dst []retry.Target, r routed) []retry.Target {
	first := retry.Target{Provider: r.provider.Name(), Model: r.model}
	dst = append(dst, first)
	for _, t := range snap.fallbacks[r.model] {
		if t != first {
			dst = append(dst, t)
		}
	}
	return dst
}

// enter and leave count requests using the snapshot's providers.
func (snap *snapshot) enter() { snap.active.Add(1) }
func (snap *snapshot) leave() { snap.active.Add(-1) }

// closeNew closes providers built for a snapshot that is being abandoned,
// keeping those shared with prev.
func (snap *snapshot) closeNew(prev *snapshot) {
	for name, up := range snap.ups {
		if prev != nil && prev.ups[name] == up {
			continue
		}
		up.close()
	}
}

// close stops the provider's key checks and drops its idle connections;
// several retired snapshots may share an upState, hence the Once.
func (up *upState) close() {
	up.closing.Do(func() {
		if up.checker != nil {
			up.checker.stop()
		}
		if c, ok := up.prov.(interface{ Close() }); ok {
			c.Close()
		}
	})
}

// breakerMetric maps a breaker state to the metric's encoding, which orders
// the states by severity (half-open between closed and open).
func breakerMetric(s breaker.State) int {
	switch s {
	case breaker.Open:
		return metrics.BreakerOpen
	case breaker.HalfOpen:
		return metrics.BreakerHalfOpen
	}
	return metrics.BreakerClosed
}

// newSubscriptionState is newUpState for a provider of accounts.
func newSubscriptionState(pc *config.Provider, sig string, log *zap.Logger, m *metrics.Set) (*upState, error) {
	p, keys, err := buildSubscription(pc, log)
	if err != nil {
		return nil, err
	}
	up := &upState{name: pc.Name, prov: p, sig: sig, firstEvt: pc.FirstByteTimeout, total: pc.Timeouts.Total}
	up.pool = keypool.New(keys, keypool.Options{MaxCooldown: accountCooldownCap})
	up.finish(pc, log, m)
	return up, nil
}

// finish gives an upState its breaker and concurrency bound.
func (up *upState) finish(pc *config.Provider, log *zap.Logger, m *metrics.Set) {
	if b := pc.Breaker; !b.Disabled {
		name := pc.Name
		up.br = breaker.New(breaker.Options{
			Window: b.Window, MinRequests: b.MinRequests, FailureRatio: b.FailureRatio,
			ConsecutiveFailures: b.ConsecutiveFailures, OpenFor: b.OpenFor, MaxOpenFor: b.MaxOpenFor,
			HalfOpenProbes: b.HalfOpenProbes,
			OnStateChange: func(from, to breaker.State) {
				m.SetBreakerState(name, breakerMetric(to))
				log.Warn("circuit breaker", zap.String("provider", name), zap.Stringer("from", from), zap.Stringer("to", to))
			},
		})
	}
	up.sem = admission.NewSem(pc.Name, admission.SemOptions{Limit: pc.MaxConcurrent, Queue: pc.Queue, MaxWait: pc.QueueWait, Status: 429})
}

// providerSig is the part of a provider's configuration that, changed,
// needs a new provider; the catalog lives in the snapshot instead (and its
// reasoning pointers would make every signature differ). A subscription
// provider's accounts are loaded when it is built, so the names of its
// account files are part of it: a reload after an account was added or
// removed (a sign-in from the admin API) builds the provider again. Only
// names: a refresh rewrites a file, which needs no new provider.
func providerSig(pc *config.Provider) string {
	c := *pc
	c.Catalog = nil
	sig := fmt.Sprintf("%#v", c)
	if pc.IsSubscription() && pc.Credentials != "" {
		sig += fmt.Sprintf("%q", accountFiles(pc.Credentials))
	}
	return sig
}

// SkipReason says why provider pc cannot be served yet, or "": no keys,
// or a subscription provider whose credentials folder holds no account yet
// (a new folder waiting for its first sign-in: the reload after the
// sign-in serves it).
func SkipReason(pc *config.Provider) string {
	if !pc.HasKeys() {
		return "its api_keys are empty (is the variable they name set?)"
	}
	if !pc.IsSubscription() || pc.Credentials == "" || (pc.Type == config.TypeCopilot && slices.ContainsFunc(pc.APIKeys, func(k string) bool { return k != "" })) {
		return ""
	}
	path := accounts.ExpandHome(pc.Credentials)
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir() && len(accountFiles(path)) == 0,
		errors.Is(err, os.ErrNotExist) && !strings.HasSuffix(path, ".json"):
		return "no account is signed in yet in " + pc.Credentials + " (proxy login " + pc.Type + ", or the admin console's Sign in; then it is served)"
	}
	return ""
}

// accountFiles are the *.json files of a credentials folder (nil for a
// single file, or a folder that cannot be read).
func accountFiles(path string) []string {
	path = accounts.ExpandHome(path)
	files, _ := filepath.Glob(filepath.Join(path, "*.json"))
	sort.Strings(files)
	return files
}
