package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeyOption holds the per-key settings of an api_keys entry written as an
// object ({key, weight, max_concurrent, label}); it is parallel to
// Provider.APIKeys, which keeps the secrets themselves so that plain string
// entries, ${VAR} expansion and redaction work the same for both forms.
type KeyOption struct {
	// Weight scales the key's share of traffic; 0 means 1.
	Weight int `koanf:"weight"`
	// MaxConcurrent caps the key's in-flight requests; 0 means no cap.
	MaxConcurrent int `koanf:"max_concurrent"`
	// Label is shown on /health and in logs instead of the key.
	Label string `koanf:"label"`
}

// Timeouts are a provider's upstream time limits. They are the nested form
// of the flat connect_timeout, first_byte_timeout and idle_timeout keys; a
// value set here wins over the flat one.
type Timeouts struct {
	Connect   time.Duration `koanf:"connect"`
	FirstByte time.Duration `koanf:"first_byte"`
	Idle      time.Duration `koanf:"idle"`
	// Total bounds a whole upstream exchange, stream included; 0 is none.
	Total time.Duration `koanf:"total"`
}

// Breaker tunes a provider's circuit breaker; zero values take the
// breaker's defaults.
type Breaker struct {
	// Disabled turns the breaker off for this provider.
	Disabled            bool          `koanf:"disabled"`
	Window              time.Duration `koanf:"window"`
	MinRequests         int           `koanf:"min_requests"`
	FailureRatio        float64       `koanf:"failure_ratio"`
	ConsecutiveFailures int           `koanf:"consecutive_failures"`
	OpenFor             time.Duration `koanf:"open_for"`
	MaxOpenFor          time.Duration `koanf:"max_open_for"`
	HalfOpenProbes      int           `koanf:"half_open_probes"`
}

// HealthCheck configures the optional active checks of a provider's keys.
type HealthCheck struct {
	// Interval between checks of every key; 0 disables them.
	Interval time.Duration `koanf:"interval"`
	// Timeout bounds one check (default 10 s).
	Timeout time.Duration `koanf:"timeout"`
}

// Retry is the retry and failover policy of every request.
type Retry struct {
	// MaxAttempts counts upstream attempts, the first included (default 3);
	// 1 disables retries.
	MaxAttempts int `koanf:"max_attempts"`
	// PerTarget caps attempts on one provider/model before moving down the
	// fallback chain (default 2).
	PerTarget int `koanf:"per_target"`
	// BaseBackoff and MaxBackoff bound the jittered exponential backoff.
	BaseBackoff time.Duration `koanf:"base_backoff"`
	MaxBackoff  time.Duration `koanf:"max_backoff"`
	// MaxTotal bounds the time from a request's start to its last attempt.
	MaxTotal time.Duration `koanf:"max_total"`
}

// applyTimeouts merges the nested timeouts into the flat fields (nested
// wins), so that the rest of the proxy reads one place.
func (p *Provider) applyTimeouts() {
	if p.Timeouts.Connect != 0 {
		p.ConnectTimeout = p.Timeouts.Connect
	}
	if p.Timeouts.FirstByte != 0 {
		p.FirstByteTimeout = p.Timeouts.FirstByte
	}
	if p.Timeouts.Idle != 0 {
		p.IdleTimeout = p.Timeouts.Idle
	}
}

// validateReliability checks the retry, failover, overload and breaker
// settings.
func (c *Config) validateReliability(add func(key, format string, args ...any)) {
	s := c.Server
	if s.MaxConcurrentRequests < 0 {
		add("server.max_concurrent_requests", "must not be negative")
	}
	if s.MaxConcurrentStreams < 0 {
		add("server.max_concurrent_streams", "must not be negative")
	}
	if s.MaxHeaderBytes != 0 && s.MaxHeaderBytes < 1024 {
		add("server.max_header_bytes", "must be at least 1024, got %d", s.MaxHeaderBytes)
	}
	if s.WriteTimeout < 0 {
		add("server.write_timeout", "must not be negative")
	}
	r := c.Retry
	for _, v := range []struct {
		name string
		v    int64
	}{{"max_attempts", int64(r.MaxAttempts)}, {"per_target", int64(r.PerTarget)}, {"base_backoff", int64(r.BaseBackoff)},
		{"max_backoff", int64(r.MaxBackoff)}, {"max_total", int64(r.MaxTotal)}} {
		if v.v < 0 {
			add("retry."+v.name, "must not be negative")
		}
	}
	byName := map[string]*Provider{}
	for i := range c.Providers {
		byName[c.Providers[i].Name] = &c.Providers[i]
	}
	checkChain := func(key string, chain []string) {
		for j, t := range chain {
			at := fmt.Sprintf("%s[%d]", key, j)
			prov, model, ok := strings.Cut(t, "/")
			if !ok || prov == "" || model == "" {
				add(at, "must be provider/model, got %q", t)
				continue
			}
			p := byName[prov]
			if p == nil {
				add(at, "unknown provider %q", prov)
				continue
			}
			if !slices.Contains(p.Models, "*") && !slices.Contains(p.Models, model) {
				add(at, "provider %q does not list model %q", prov, model)
			}
		}
	}
	for model, chain := range c.Fallbacks {
		checkChain("fallbacks."+model, chain)
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		key := fmt.Sprintf("providers[%d]", i)
		for model, chain := range p.Fallbacks {
			checkChain(key+".fallbacks."+model, chain)
		}
		if len(p.KeyOptions) > len(p.APIKeys) {
			add(key+".api_keys", "%d key options for %d keys", len(p.KeyOptions), len(p.APIKeys))
		}
		labels := map[string]bool{}
		for j, o := range p.KeyOptions {
			at := fmt.Sprintf("%s.api_keys[%d]", key, j)
			if o.Weight < 0 {
				add(at+".weight", "must not be negative")
			}
			if o.MaxConcurrent < 0 {
				add(at+".max_concurrent", "must not be negative")
			}
			if o.Label != "" {
				if labels[o.Label] {
					add(at+".label", "%q used twice", o.Label)
				}
				labels[o.Label] = true
			}
		}
		if p.MaxConcurrent < 0 || p.Queue < 0 || p.QueueWait < 0 {
			add(key, "max_concurrent, queue and queue_wait must not be negative")
		}
		t := p.Timeouts
		if t.Connect < 0 || t.FirstByte < 0 || t.Idle < 0 || t.Total < 0 {
			add(key+".timeouts", "must not be negative")
		}
		b := p.Breaker
		if b.FailureRatio < 0 || b.FailureRatio > 1 {
			add(key+".breaker.failure_ratio", "must be between 0 and 1, got %v", b.FailureRatio)
		}
		if b.Window < 0 || b.OpenFor < 0 || b.MaxOpenFor < 0 || b.MinRequests < 0 || b.HalfOpenProbes < 0 {
			add(key+".breaker", "durations and counts must not be negative")
		}
		if p.HealthCheck.Interval < 0 || p.HealthCheck.Timeout < 0 {
			add(key+".health_check", "interval and timeout must not be negative")
		}
	}
}
