package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCacheFromFile(t *testing.T) {
	path := writeFile(t, `
providers:
  - {name: a, type: mock, models: [m1, m2]}
  - {name: b, type: mock, models: ["*"]}
cache:
  backend: redis
  ttl: 1h
  max_entry_bytes: 65536
  redis: {addr: "127.0.0.1:6379", password: "${PW}", key_prefix: "p:"}
  targets:
    - {provider: a, models: [m1], replay: paced, allow_temperature: true}
    - {provider: b, ttl: 5m}
`)
	cfg, err := Load(Source{Path: path, Required: true, Environ: []string{"PW=secret"}})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cache
	if !c.Enabled() || c.Backend != "redis" || c.TTL != time.Hour || c.MaxEntryBytes != 65536 || c.MaxBytes != 64<<20 ||
		c.Replay != ReplayInstant || c.Redis.Password != "secret" || c.Redis.KeyPrefix != "p:" || c.Redis.Timeout != 50*time.Millisecond {
		t.Fatalf("cache %+v", c)
	}
	if len(c.Targets) != 2 || c.Targets[0].Replay != ReplayPaced || c.Targets[0].AllowTemperature == nil ||
		!*c.Targets[0].AllowTemperature || c.Targets[1].TTL != 5*time.Minute || c.Targets[1].AllowTemperature != nil {
		t.Fatalf("targets %+v", c.Targets)
	}
	// Environment variables reach the cache's scalar settings.
	cfg, err = Load(Source{Path: path, Required: true, Environ: []string{"PW=x", "PROXY_CACHE_TTL=2h", "PROXY_CACHE_REDIS_ADDR=10.0.0.1:6380"}})
	if err != nil || cfg.Cache.TTL != 2*time.Hour || cfg.Cache.Redis.Addr != "10.0.0.1:6380" {
		t.Fatalf("from the environment: ttl %v, addr %q, %v", cfg.Cache.TTL, cfg.Cache.Redis.Addr, err)
	}
	if d := Defaults(); d.Cache.Enabled() {
		t.Fatal("the cache is on by default; it must be opt-in")
	}
}

func TestCacheProblems(t *testing.T) {
	const prov = "providers: [{name: a, type: mock, models: [m]}]\n"
	tests := []struct {
		name, yaml, key string
	}{
		{"unknown backend", "cache: {backend: memcached, targets: [{provider: a}]}", "cache.backend"},
		{"redis without addr", "cache: {backend: redis, targets: [{provider: a}]}", "cache.redis.addr"},
		{"unknown provider", "cache: {targets: [{provider: nope}]}", "cache.targets[0].provider"},
		{"duplicate target", "cache: {targets: [{provider: a, models: [m]}, {provider: a, models: [m]}]}", "cache.targets[1]"},
		{"replay", "cache: {replay: slow}", "cache.replay"},
		{"target replay", "cache: {targets: [{provider: a, replay: fast}]}", "cache.targets[0].replay"},
		{"ttl", "cache: {ttl: 0s}", "cache.ttl"},
		{"entry over the bound", "cache: {max_bytes: 100, max_entry_bytes: 200}", "cache.max_entry_bytes"},
		{"sizes", "cache: {max_entries: 0}", "cache"},
		{"unknown key", "cache: {targets: [{provider: a, modles: [m]}]}", "cache.targets[0].modles"},
		{"duration without unit", "cache: {ttl: 60}", "cache.ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{Path: writeFile(t, prov+tc.yaml), Required: true})
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Key == tc.key {
					return
				}
			}
			t.Fatalf("problems %v lack key %s", err, tc.key)
		})
	}
}

// TestShippedCacheExample loads the commented cache: example of the
// repository's config.yaml, uncommented, so that it stays valid.
func TestShippedCacheExample(t *testing.T) {
	b, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "\n# cache:\n")
	if !ok {
		t.Fatal("config.yaml has no commented cache: example")
	}
	var yaml strings.Builder
	yaml.WriteString("providers:\n  - {name: openai, type: mock, models: [gpt-4o-mini]}\ncache:\n")
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "#  ") {
			break
		}
		yaml.WriteString(strings.TrimPrefix(line, "#") + "\n")
	}
	cfg, err := Load(Source{Path: writeFile(t, yaml.String()), Required: true, Environ: []string{"REDIS_PASSWORD=pw"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml.String())
	}
	if len(cfg.Cache.Targets) != 1 || cfg.Cache.Targets[0].TTL != time.Hour || cfg.Cache.Redis.Password != "pw" {
		t.Fatalf("cache %+v", cfg.Cache)
	}
}
