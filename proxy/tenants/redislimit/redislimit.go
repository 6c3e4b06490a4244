// Package redislimit counts per-key rate limits and budgets in Redis, so
// that several proxy instances enforce one limit: each check and each
// spend is one Lua script run atomically on the server, by the server's
// clock (TIME), with counters that expire on their own.
package redislimit

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmproxy/proxy/proxy/tenants"
)

//go:embed limits.lua
var source string

var script = redis.NewScript(source)

// Counter is a tenants.Shared on one Redis.
type Counter struct {
	c *redis.Client
}

// Open connects to url (redis://host:port/db) and checks the server answers.
func Open(ctx context.Context, url string) (*Counter, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("store.redis: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	// A limit check is retried by nobody: fail fast, decide open or closed.
	// (0 would mean go-redis's default of 3 retries, and 5 dial attempts.)
	opt.MaxRetries, opt.DialerRetries = -1, 1
	// No CLIENT SETINFO: Redis 7.0 and older answer it with an error.
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("store.redis %s: %w", opt.Addr, err)
	}
	if err := script.Load(ctx, c).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("store.redis: load script: %w", err)
	}
	return &Counter{c: c}, nil
}

// Close closes the connections.
func (r *Counter) Close() error { return r.c.Close() }

func (r *Counter) run(ctx context.Context, args ...any) (any, error) {
	return script.Run(ctx, r.c, nil, args...).Result()
}

// Admit implements tenants.Shared.
func (r *Counter) Admit(ctx context.Context, id string, rpm, tpm, budget int64, period string) (tenants.Decision, error) {
	v, err := r.run(ctx, "admit", id, period, rpm, tpm, budget)
	if err != nil {
		return tenants.Decision{}, fmt.Errorf("redis limit check: %w", err)
	}
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		return tenants.Decision{}, fmt.Errorf("redis limit check: unexpected answer %v", v)
	}
	verdict, _ := a[0].(int64)
	wait, _ := a[1].(int64)
	what, _ := a[2].(string)
	d := tenants.Decision{RetryAfter: time.Duration(wait) * time.Second, What: what}
	switch verdict {
	case 1:
		d.Verdict = tenants.OverRate
	case 2:
		d.Verdict = tenants.OverBudget
	}
	return d, nil
}

// Spend implements tenants.Shared.
func (r *Counter) Spend(ctx context.Context, id string, tokens, units int64, period string) error {
	if _, err := r.run(ctx, "spend", id, period, tokens, units); err != nil {
		return fmt.Errorf("redis spend: %w", err)
	}
	return nil
}

// Spent implements tenants.Shared.
func (r *Counter) Spent(ctx context.Context, id, period string) (int64, error) {
	v, err := r.run(ctx, "spent", id, period)
	if err != nil {
		return 0, fmt.Errorf("redis spent: %w", err)
	}
	n, _ := v.(int64)
	return n, nil
}

// Reset implements tenants.Shared.
func (r *Counter) Reset(ctx context.Context, id, period string) error {
	if _, err := r.run(ctx, "reset", id, period); err != nil {
		return fmt.Errorf("redis reset: %w", err)
	}
	return nil
}

var _ tenants.Shared = (*Counter)(nil)
