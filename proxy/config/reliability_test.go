package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReliabilitySettings loads the retry, failover, key and overload
// settings from a file: object api_keys next to plain ones, nested
// timeouts over flat ones, and fallbacks keyed by dotted model names.
func TestReliabilitySettings(t *testing.T) {
	path := writeFile(t, `
server:
  api_keys: [own-key]
  max_concurrent_requests: 100
  max_concurrent_streams: 50
retry:
  max_attempts: 4
  base_backoff: 20ms
fallbacks:
  gpt-4.1: [claude/claude-sonnet-4, gemini/gemini-2.5-pro]
providers:
  - name: openai
    type: openai
    models: [gpt-4.1]
    api_keys:
      - plain-1
      - {key: "${SECRET}", weight: 3, max_concurrent: 8, label: team-a}
    connect_timeout: 3s
    first_byte_timeout: 7s
    timeouts: {first_byte: 2s, total: 60s}
    breaker: {consecutive_failures: 4, open_for: 10s}
    max_concurrent: 20
    queue: 5
    queue_wait: 500ms
  - name: claude
    type: claude
    models: [claude-sonnet-4]
    api_keys: [c1]
    fallbacks:
      claude-sonnet-4: [openai/gpt-4.1]
  - name: gemini
    type: gemini
    models: ["*"]
    api_keys: [g1]
`)
	cfg, err := Load(Source{Path: path, Required: true, Environ: []string{"SECRET=s3"}})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	if !slices.Equal(p.APIKeys, []string{"plain-1", "s3"}) {
		t.Fatalf("api_keys %q", p.APIKeys)
	}
	if len(p.KeyOptions) != 2 || p.KeyOptions[1] != (KeyOption{Weight: 3, MaxConcurrent: 8, Label: "team-a"}) || p.KeyOptions[0] != (KeyOption{}) {
		t.Fatalf("key options %+v", p.KeyOptions)
	}
	if p.ConnectTimeout != 3*time.Second || p.FirstByteTimeout != 2*time.Second || p.Timeouts.Total != time.Minute {
		t.Fatalf("timeouts connect %v first byte %v total %v", p.ConnectTimeout, p.FirstByteTimeout, p.Timeouts.Total)
	}
	if p.Breaker.ConsecutiveFailures != 4 || p.MaxConcurrent != 20 || p.Queue != 5 || p.QueueWait != 500*time.Millisecond {
		t.Fatalf("breaker/overload %+v", p)
	}
	if got := cfg.Fallbacks["gpt-4.1"]; !slices.Equal(got, []string{"claude/claude-sonnet-4", "gemini/gemini-2.5-pro"}) {
		t.Fatalf("fallbacks %v", cfg.Fallbacks)
	}
	if got := cfg.Providers[1].Fallbacks["claude-sonnet-4"]; !slices.Equal(got, []string{"openai/gpt-4.1"}) {
		t.Fatalf("provider fallbacks %v", cfg.Providers[1].Fallbacks)
	}
	if cfg.Retry.MaxAttempts != 4 || cfg.Retry.BaseBackoff != 20*time.Millisecond || cfg.Server.MaxConcurrentStreams != 50 {
		t.Fatalf("retry %+v server %+v", cfg.Retry, cfg.Server)
	}
}

func TestReliabilityProblems(t *testing.T) {
	tests := []struct {
		name, yaml, key string
	}{
		{"unknown fallback provider", `
fallbacks: {m: [nope/m]}
providers: [{name: a, type: mock, models: [m]}]`, "fallbacks.m[0]"},
		{"fallback model not served", `
fallbacks: {m: [a/other]}
providers: [{name: a, type: mock, models: [m]}]`, "fallbacks.m[0]"},
		{"fallback not provider/model", `
fallbacks: {m: [justamodel]}
providers: [{name: a, type: mock, models: [m]}]`, "fallbacks.m[0]"},
		{"key object without key", `
providers: [{name: a, type: openai, models: [m], api_keys: [{weight: 2}]}]`, "providers[0].api_keys[0].key"},
		{"key object unknown field", `
providers: [{name: a, type: openai, models: [m], api_keys: [{key: k, wieght: 2}]}]`, "providers[0].api_keys[0].wieght"},
		{"negative weight", `
providers: [{name: a, type: openai, models: [m], api_keys: [{key: k, weight: -1}]}]`, "providers[0].api_keys[0].weight"},
		{"breaker ratio", `
providers: [{name: a, type: mock, models: [m], breaker: {failure_ratio: 2}}]`, "providers[0].breaker.failure_ratio"},
		{"negative retry", `
retry: {max_attempts: -1}
providers: [{name: a, type: mock, models: [m]}]`, "retry.max_attempts"},
		{"negative streams", `
server: {max_concurrent_streams: -2}
providers: [{name: a, type: mock, models: [m]}]`, "server.max_concurrent_streams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{Path: writeFile(t, tc.yaml), Required: true})
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

func TestFallbacksOnlyFromFileKeepDottedNames(t *testing.T) {
	_, err := Load(Source{Path: writeFile(t, "fallbacks:\n  a.b.c: [x/y]\nproviders: [{name: x, type: mock, models: [y, a.b.c]}]\n"), Required: true})
	if err != nil && strings.Contains(err.Error(), "fallbacks.a") && !strings.Contains(err.Error(), "a.b.c") {
		t.Fatalf("dotted model name split: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
