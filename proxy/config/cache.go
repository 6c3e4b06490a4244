package config

import (
	"fmt"
	"time"
)

// Cache configures the exact response cache. It is opt-in: only the
// providers and models listed in Targets are cached.
type Cache struct {
	// Backend is memory (this process) or redis (shared by instances).
	Backend string `koanf:"backend"`
	// TTL is how long an answer is kept, unless its target says otherwise.
	TTL time.Duration `koanf:"ttl"`
	// MaxBytes and MaxEntries bound the memory backend (LRU eviction).
	MaxBytes   int64 `koanf:"max_bytes"`
	MaxEntries int   `koanf:"max_entries"`
	// MaxEntryBytes bounds one stored answer (either backend); a larger
	// answer is relayed but not stored.
	MaxEntryBytes int `koanf:"max_entry_bytes"`
	// Replay is how a cached stream is sent: instant (all events in one
	// write) or paced (each event after the delay it had upstream).
	Replay string `koanf:"replay"`
	// AllowTemperature caches requests whose temperature is above 0 (or
	// absent: every protocol defaults to one above 0).
	AllowTemperature bool       `koanf:"allow_temperature"`
	Redis            CacheRedis `koanf:"redis"`
	// Targets are the providers, or models of a provider, whose answers
	// are cached.
	Targets []CacheTarget `koanf:"targets"`
}

// CacheRedis is the Redis a shared cache lives in.
type CacheRedis struct {
	Addr     string `koanf:"addr"`
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	DB       int    `koanf:"db"`
	// KeyPrefix starts every key the cache writes.
	KeyPrefix string `koanf:"key_prefix"`
	// Timeout bounds each read and write; a slow Redis is a miss.
	Timeout time.Duration `koanf:"timeout"`
}

// CacheTarget turns the cache on for one provider, or some of its models.
type CacheTarget struct {
	Provider string `koanf:"provider"`
	// Models are upstream model names of the provider; empty means all.
	Models []string `koanf:"models"`
	// TTL, Replay and AllowTemperature override the cache-wide settings.
	TTL              time.Duration `koanf:"ttl"`
	Replay           string        `koanf:"replay"`
	AllowTemperature *bool         `koanf:"allow_temperature"`
}

// Enabled reports whether anything is cached.
func (c *Cache) Enabled() bool { return len(c.Targets) > 0 }

// Cache replay modes.
const (
	ReplayInstant = "instant"
	ReplayPaced   = "paced"
)

func cacheDefaults() Cache {
	return Cache{
		Backend:       "memory",
		TTL:           10 * time.Minute,
		MaxBytes:      64 << 20,
		MaxEntries:    10000,
		MaxEntryBytes: 1 << 20,
		Replay:        ReplayInstant,
		Redis:         CacheRedis{KeyPrefix: "proxy:cache:", Timeout: 50 * time.Millisecond},
	}
}

func (c *Config) validateCache(add func(key, format string, args ...any)) {
	cc := &c.Cache
	switch cc.Backend {
	case "memory":
	case "redis":
		if cc.Redis.Addr == "" {
			add("cache.redis.addr", "required when cache.backend is redis (host:port)")
		}
		if cc.Redis.Timeout <= 0 {
			add("cache.redis.timeout", "must be positive")
		}
		if cc.Redis.DB < 0 {
			add("cache.redis.db", "must not be negative")
		}
	default:
		add("cache.backend", "must be memory or redis, got %q", cc.Backend)
	}
	if cc.TTL <= 0 {
		add("cache.ttl", "must be positive")
	}
	if cc.MaxBytes <= 0 || cc.MaxEntries <= 0 || cc.MaxEntryBytes <= 0 {
		add("cache", "max_bytes, max_entries and max_entry_bytes must be positive")
	} else if int64(cc.MaxEntryBytes) > cc.MaxBytes {
		add("cache.max_entry_bytes", "must not exceed cache.max_bytes (%d)", cc.MaxBytes)
	}
	checkReplay("cache.replay", cc.Replay, false, add)
	providers := map[string]bool{}
	for _, p := range c.Providers {
		providers[p.Name] = true
	}
	seen := map[string]string{}
	for i, t := range cc.Targets {
		key := fmt.Sprintf("cache.targets[%d]", i)
		if !providers[t.Provider] {
			add(key+".provider", "%q is not a configured provider", t.Provider)
		}
		if t.TTL < 0 {
			add(key+".ttl", "must not be negative (0 keeps cache.ttl)")
		}
		checkReplay(key+".replay", t.Replay, true, add)
		models := t.Models
		if len(models) == 0 {
			models = []string{"*"}
		}
		for j, m := range models {
			if m == "" {
				add(fmt.Sprintf("%s.models[%d]", key, j), "empty model name")
				continue
			}
			id := t.Provider + "\x00" + m
			if prev, dup := seen[id]; dup {
				add(key, "provider %q, model %q is already a target at %s", t.Provider, m, prev)
			}
			seen[id] = key
		}
	}
}

func checkReplay(key, v string, emptyOK bool, add func(key, format string, args ...any)) {
	switch {
	case v == ReplayInstant, v == ReplayPaced, v == "" && emptyOK:
	default:
		add(key, "must be instant or paced, got %q", v)
	}
}
