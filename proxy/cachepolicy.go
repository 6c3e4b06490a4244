package proxy

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/proxy/cache"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/metrics"
)

// HeaderCache tells the client what the response cache did with its
// request: hit (answered from the cache), miss (looked up, not found;
// the answer may be stored) or bypass (not looked up: Cache-Control
// no-cache or no-store, a sampled request, state kept upstream).
const HeaderCache = "X-Proxy-Cache"

// cachePolicy is the response cache as one configuration snapshot sees
// it: the store (carried over a reload that leaves its settings alone)
// and which provider and model pairs are cached, how.
type cachePolicy struct {
	store cache.Store
	// recording bounds the streams being recorded, together (max_bytes).
	recording *cache.Budget
	// sig is the store's settings, to tell whether a reload changed them.
	sig     string
	targets map[string]*cacheTargets
}

// cacheTargets are the rules of one provider: per model, then for all.
type cacheTargets struct {
	all    *cacheRule
	models map[string]*cacheRule
}

// cacheRule is how the answers of one target are cached.
type cacheRule struct {
	ttl       time.Duration
	paced     bool
	allowTemp bool
	maxEntry  int
	// salt stands for the configuration that shapes the upstream request
	// (the provider's settings, the system prompt, the catalog): a reload
	// that changes it makes earlier answers unreachable.
	salt [sha256.Size]byte
	// headers are the client headers that may reach this provider's
	// upstream, whose values are part of the key.
	headers []string
}

// cacheKeyHeaders are the client headers forwarded within a protocol
// family (providers/upstream): they can change the answer.
var cacheKeyHeaders = []string{"OpenAI-Beta", "anthropic-version", "anthropic-beta"}

// newCachePolicy builds the cache of cfg, or nil when nothing is cached;
// the store of prev is kept if its settings did not change.
func newCachePolicy(cfg *config.Config, snap *snapshot, prev *snapshot) *cachePolicy {
	cc := &cfg.Cache
	if !cc.Enabled() {
		return nil
	}
	p := &cachePolicy{sig: cacheStoreSig(cc), targets: map[string]*cacheTargets{}}
	if prev != nil && prev.cache != nil && prev.cache.sig == p.sig {
		p.store, p.recording = prev.cache.store, prev.cache.recording
	} else {
		p.store, p.recording = newCacheStore(cc), cache.NewBudget(cc.MaxBytes)
	}
	for _, t := range cc.Targets {
		pc := providerConfig(cfg, t.Provider)
		if pc == nil || snap.ups[t.Provider] == nil {
			continue // skipped for lack of keys: nothing to cache
		}
		r := &cacheRule{
			ttl:       cc.TTL,
			paced:     cc.Replay == config.ReplayPaced,
			allowTemp: cc.AllowTemperature,
			maxEntry:  cc.MaxEntryBytes,
			salt: sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%#v", providerSig(pc),
				snap.sysMode, snap.sysPrompt, cfg.Catalog)),
			headers: append(append([]string(nil), cacheKeyHeaders...), pc.ForwardHeaders...),
		}
		if t.TTL > 0 {
			r.ttl = t.TTL
		}
		if t.Replay != "" {
			r.paced = t.Replay == config.ReplayPaced
		}
		if t.AllowTemperature != nil {
			r.allowTemp = *t.AllowTemperature
		}
		ts := p.targets[t.Provider]
		if ts == nil {
			ts = &cacheTargets{models: map[string]*cacheRule{}}
			p.targets[t.Provider] = ts
		}
		if len(t.Models) == 0 {
			ts.all = r
		}
		for _, m := range t.Models {
			ts.models[m] = r
		}
	}
	return p
}

func providerConfig(cfg *config.Config, name string) *config.Provider {
	for i := range cfg.Providers {
		if cfg.Providers[i].Name == name {
			return &cfg.Providers[i]
		}
	}
	return nil
}

func cacheStoreSig(cc *config.Cache) string {
	return fmt.Sprintf("%s|%d|%d|%d|%#v", cc.Backend, cc.MaxBytes, cc.MaxEntries, cc.MaxEntryBytes, cc.Redis)
}

func newCacheStore(cc *config.Cache) cache.Store {
	if cc.Backend == "redis" {
		return cache.NewRedis(cache.RedisOptions{
			Addr:     cc.Redis.Addr,
			Username: cc.Redis.Username,
			Password: cc.Redis.Password,
			DB:       cc.Redis.DB,
			Prefix:   cc.Redis.KeyPrefix,
			Timeout:  cc.Redis.Timeout,
			MaxValue: cc.MaxEntryBytes,
		})
	}
	return cache.NewMemory(cc.MaxBytes, cc.MaxEntries)
}

// rule is how the answer to a request for op on rt is cached, or nil.
// Only generations are: token counts are answered locally or cheaply,
// and embeddings are left out.
func (p *cachePolicy) rule(op providers.Op, rt routed) *cacheRule {
	if op != providers.OpGenerate && op != providers.OpComplete {
		return nil
	}
	ts := p.targets[rt.provider.Name()]
	if ts == nil {
		return nil
	}
	if r := ts.models[rt.model]; r != nil {
		return r
	}
	return ts.all
}

// cacheStats reads the current store's figures for the metrics.
func (s *Server) cacheStats() metrics.CacheStats {
	p := s.current().cache
	if p == nil {
		return metrics.CacheStats{}
	}
	st := p.store.Stats()
	return metrics.CacheStats{Entries: st.Entries, Bytes: st.Bytes, Evictions: st.Evictions, Errors: st.Errors, Dropped: st.Dropped}
}
