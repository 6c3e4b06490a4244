package proxy

import (
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// keyChecker is a provider that can test one key out of band.
type keyChecker interface {
	CheckKey(key string, timeout time.Duration) (status int, err error)
}

// healthChecker tests every key of one provider on an interval: a key the
// upstream accepts is put back in service (after a 401 or a run of
// failures), one it rejects is disabled. Transport errors and 5xx say
// nothing about a key and are not reported.
type healthChecker struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startHealthChecker(name string, c keyChecker, pool *keypool.Pool, keys []keypool.Key, hc config.HealthCheck, log *zap.Logger) *healthChecker {
	h := &healthChecker{done: make(chan struct{})}
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(hc.Interval)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
			}
			if !h.round(name, c, pool, keys, timeout, log) {
				return
			}
		}
	}()
	return h
}

// round checks every key once; false means the checker was stopped. A
// panic in one round is logged and the next round runs as usual.
func (h *healthChecker) round(name string, c keyChecker, pool *keypool.Pool, keys []keypool.Key, timeout time.Duration, log *zap.Logger) (alive bool) {
	alive = true // also after a recovered panic
	defer recoverAndLog(log, "key health check")
	for _, k := range keys {
		status, err := c.CheckKey(k.Secret, timeout)
		switch {
		case err != nil:
		case status >= 200 && status < 300:
			pool.ReportHealthCheck(k.Label, true)
		case status == 401 || status == 403:
			if pool.Disable(k.Label) {
				log.Warn("key check: key rejected", zap.String("provider", name), zap.String("key", k.Label), zap.Int("status", status))
			}
		}
		select {
		case <-h.done:
			return false
		default:
		}
	}
	return true
}

func (h *healthChecker) stop() {
	close(h.done)
	h.wg.Wait()
}
