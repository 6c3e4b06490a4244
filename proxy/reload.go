package proxy

import (
	"errors"
	"fmt"
	"time"

	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// ProviderConfigs are the running configuration's providers (the admin
// API's sign-ins look theirs up). The slice is the snapshot's: read only.
func (s *Server) ProviderConfigs() []config.Provider { return s.current().cfg.Providers }

// Reload swaps in a new configuration: it is built and validated aside,
// then installed with one atomic store. Requests already running keep the
// snapshot they started with; providers whose settings did not change are
// carried over with their key health, cooldowns and breaker. The listener's
// own settings (address, read/idle timeouts, body and header sizes) are
// fixed at start and need a restart. On error the running configuration
// stays in place.
func (s *Server) Reload(cfg *config.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	select {
	case <-s.closed:
		return errors.New("reload: the server is shut down")
	default:
	}
	if ps := cfg.Validate(); ps != nil {
		return fmt.Errorf("reload: %w", ps)
	}
	prev := s.current()
	snap, err := newSnapshot(cfg, s.log, s.metrics, prev)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if cfg.Server.Host != s.cfg.Server.Host || cfg.Server.Port != s.cfg.Server.Port {
		s.log.Warn("reload: server.host and server.port take effect only after a restart")
	}
	s.install(snap, prev)
	kept := 0
	for name, up := range snap.ups {
		if prev.ups[name] == up {
			kept++
		}
	}
	s.log.Info("configuration reloaded", zap.Int("providers", len(snap.ups)), zap.Int("providers_unchanged", kept))
	return nil
}

// install makes snap the snapshot of new requests and retires prev.
func (s *Server) install(snap, prev *snapshot) {
	names := make([]string, 0, len(snap.ups))
	for _, p := range snap.registry.All() {
		names = append(names, p.Name())
		if pg, ok := p.(interface{ PoolStats() (inUse, waiting int) }); ok {
			s.metrics.RegisterPoolGauges(p.Name(),
				func() float64 { n, _ := pg.PoolStats(); return float64(n) },
				func() float64 { _, n := pg.PoolStats(); return float64(n) })
		}
	}
	s.metrics.SetLabels(names, append(snap.registry.Models(), aliasNames(snap.cfg)...))
	for name, up := range snap.ups {
		if up.pool != nil {
			s.metrics.RegisterKeyStates(name, keyStateNames(), keyStateCounter(up.pool))
		} else {
			s.metrics.UnregisterKeyStates(name)
		}
		// Transitions update the gauge; a new breaker's first value is
		// published here, once the provider's name is a known label, or it
		// would be missing until the first transition (and a dashboard
		// blank). No request has reached it yet: the snapshot is not in
		// place. A breaker carried over has published its own.
		if up.br != nil && (prev == nil || prev.ups[name] != up) {
			s.metrics.SetBreakerState(name, breakerMetric(up.br.State()))
		}
	}
	clientNames := []string{"default"}
	for _, c := range snap.cfg.Clients {
		clientNames = append(clientNames, c.Name)
	}
	s.metrics.SetClients(clientNames)
	s.snap.Store(snap)
	if prev == nil {
		return
	}
	for name := range prev.ups {
		if snap.ups[name] == nil {
			s.metrics.UnregisterPoolGauges(name)
			s.metrics.UnregisterKeyStates(name)
		}
	}
	s.retire(prev)
}

// keyStateNames are the states a key pool reports, as metric labels.
func keyStateNames() []string {
	return []string{keypool.Healthy.String(), keypool.Cooldown.String(), keypool.Unhealthy.String(), keypool.Disabled.String()}
}

// keyStateCounter counts pool's keys in a state at scrape time (a
// snapshot per state and scrape: pools hold a handful of keys).
func keyStateCounter(pool *keypool.Pool) func(state string) float64 {
	return func(state string) float64 {
		n := 0
		for _, k := range pool.Snapshot() {
			if k.State.String() == state {
				n++
			}
		}
		return float64(n)
	}
}

// retire closes prev's providers that the current snapshot does not share
// once prev's last request finished (or the server shuts down): their idle
// connections would otherwise linger until the upstream drops them.
func (s *Server) retire(prev *snapshot) {
	prev.retired.Store(true)
	s.retiring.Add(1)
	go func() {
		defer s.retiring.Done()
		defer recoverAndLog(s.log, "retire snapshot")
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
	wait:
		for prev.active.Load() > 0 {
			select {
			case <-t.C:
			case <-s.closed:
				// Shutting down: closing only stops key checks and drops idle
				// connections, which the requests still running do not need.
				break wait
			}
		}
		cur := s.current()
		for name, up := range prev.ups {
			if cur.ups[name] != up {
				up.close()
			}
		}
		if prev.cache != nil && (cur.cache == nil || cur.cache.store != prev.cache.store) {
			_ = prev.cache.store.Close()
		}
	}()
}
