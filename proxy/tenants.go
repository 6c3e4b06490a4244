package proxy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/redislimit"
	"github.com/llmproxy/proxy/proxy/tenants/sqlstore"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Virtual keys (issue 17): keys made at run time, kept hashed in the store
// and in memory in tenants.Table. This file connects them to the request
// path: authentication, the limits check, the provider allow-list and the
// usage record written when the access line is.

// tenantState is what the server holds for virtual keys: the service, and
// what to close with it.
type tenantState struct {
	svc    *tenants.Service
	store  *sqlstore.Store
	shared *redislimit.Counter
}

// openTenants opens the store (and Redis) of cfg.Store; nil when off.
func openTenants(cfg *config.Config, log *zap.Logger) (*tenantState, error) {
	st := cfg.Store
	if !st.Enabled || cfg.Server.Auth == "off" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlstore.Open(ctx, st.Driver, st.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	t := &tenantState{store: store}
	o := tenants.Options{
		Store: store, Log: log.Named("tenants"),
		LimitsFailOpen: st.LimitsFail == "open", BudgetsFailOpen: st.BudgetsFail == "open",
		Queue: st.UsageQueue, Batch: st.UsageBatch, FlushInterval: st.FlushInterval, SyncInterval: st.SyncInterval,
		Retention: st.UsageRetention,
		Wrap:      func(e *tenants.Entry) any { return &client{name: e.Key.Name, vk: e} },
	}
	if st.Redis != "" {
		if t.shared, err = redislimit.Open(ctx, st.Redis); err != nil {
			_ = store.Close()
			return nil, err
		}
		o.Shared = t.shared
	}
	if t.svc, err = tenants.New(ctx, o); err != nil {
		t.close()
		return nil, err
	}
	log.Info("virtual keys on", zap.String("driver", st.Driver), zap.Int("keys", t.svc.Table().Len()), zap.Bool("redis", st.Redis != ""))
	return t, nil
}

func (t *tenantState) close() {
	if t == nil {
		return
	}
	if t.svc != nil {
		t.svc.Close()
	}
	if t.shared != nil {
		_ = t.shared.Close()
	}
	_ = t.store.Close()
}

// Tenants is the virtual key service (nil when store.enabled is off), for
// the admin API.
func (s *Server) Tenants() *tenants.Service {
	if s.tenants == nil {
		return nil
	}
	return s.tenants.svc
}

// virtualClient returns the client of a presented virtual key, or nil.
func (s *Server) virtualClient(key []byte) *client {
	if s.tenants == nil {
		return nil
	}
	if e := s.tenants.svc.Lookup(key, time.Now()); e != nil {
		return e.Ext.(*client)
	}
	return nil
}

// admitVirtual counts a virtual key's request against its limits; false
// when it was refused (and answered, in protocol p).
func (s *Server) admitVirtual(ctx *fasthttp.RequestCtx, p wire.Protocol, c *client) bool {
	if c.vk == nil {
		return true
	}
	d := s.tenants.svc.Admit(c.vk, time.Now())
	if d.Verdict == tenants.Admitted {
		return true
	}
	secs := int64((d.RetryAfter + time.Second - 1) / time.Second)
	ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(max(secs, 1), 10))
	name := quote(c.name)
	switch d.Verdict {
	case tenants.OverBudget:
		b := c.vk.Key.Budget
		s.reject(ctx, p, wire.RateLimited, "insufficient quota: the "+b.Period+"ly budget of key "+name+" ("+budgetText(b)+
			") is spent; it resets at "+time.Now().Add(d.RetryAfter).UTC().Format(time.RFC3339)+" or when an operator resets it")
	case tenants.Unavailable:
		s.reject(ctx, p, wire.Unavailable, "the "+d.What+" of key "+name+" cannot be checked now (the shared limit store is down); retry later")
	default:
		s.reject(ctx, p, wire.RateLimited, "rate limit: key "+name+" has used its "+d.What+"; retry after "+strconv.FormatInt(secs, 10)+"s")
	}
	return false
}

// leaseLabel is the label of the key or account a lease holds (never the
// secret), or "" for a provider without keys.
func leaseLabel(l *keypool.Lease) string {
	if !l.Valid() {
		return ""
	}
	return l.Label()
}

func budgetText(b tenants.Budget) string {
	if b.Kind == tenants.BudgetUSD {
		return "$" + strconv.FormatFloat(b.Amount, 'f', 2, 64)
	}
	return strconv.FormatFloat(b.Amount, 'f', 0, 64) + " tokens"
}

// recordTenant writes the usage record of a finished request (queued,
// written in the background). Requests of config-file clients are
// recorded too, under their client name.
func (s *Server) recordTenant(c *client, start time.Time, p wire.Protocol, provider, account, model string, status int, stream bool,
	counts usage.Counts, latency, ttft time.Duration) {
	if s.tenants == nil {
		return
	}
	rec := tenants.Record{
		Time: start, Client: clientName(c), Protocol: p.String(), Provider: provider, Account: account, Model: model, Status: status, Stream: stream,
		Input: int64(counts.Input), Output: int64(counts.Output), Cached: int64(counts.Cached), Reasoning: int64(counts.Reasoning),
		Latency: latency, TTFT: ttft,
	}
	if provider != "" && (counts.Input > 0 || counts.Output > 0) {
		if m, ok := s.current().catalogs[provider].Lookup(model); ok {
			pr := m.Price
			cachedPrice := pr.CachedInput
			if cachedPrice == 0 {
				cachedPrice = pr.Input
			}
			rec.CostUSD = (float64(counts.Input-counts.Cached)*pr.Input + float64(counts.Cached)*cachedPrice +
				float64(counts.Output)*pr.Output) / 1e6
		}
	}
	var e *tenants.Entry
	if c != nil {
		e = c.vk
	}
	s.tenants.svc.Finish(e, &rec)
}
