package metrics

import (
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

type reqKey struct {
	ingress, provider, model string
	status                   int16
}

type reqSeries struct {
	count *vm.Counter
	lat   *latSeries
}

type latKey struct{ ingress, provider, model string }

// latSeries gathers every series one request touches, so ObserveRequest
// does a single map lookup.
type latSeries struct {
	total, upstream, overhead, ttft *histogram
	ip                              *ingressProvider
}

type ipKey struct{ ingress, provider string }

type ingressProvider struct {
	overhead          *histogram
	bytesIn, bytesOut *vm.Counter
}

type pmKey struct{ provider, model string }

type providerModel struct {
	upstream            *histogram
	tokensIn, tokensOut *vm.Counter
}

type providerSeries struct {
	retries, cooldowns *vm.Counter
	breaker            *vm.Gauge
}

// canon maps caller strings to bounded label values owned by the Set.
func (s *Set) canon(ingress, provider, model string) (string, string, string) {
	k := s.known.Load()
	return ingressLabels.canon(ingress), k.providers.canon(provider), k.models.canon(model)
}

// ObserveRequest records one finished request: its count by status, total,
// upstream and overhead (total minus upstream) durations, and body sizes.
// upstream is 0 when the request never reached a provider (rejected by the
// proxy itself); then no upstream time is recorded and all of total counts
// as overhead.
func (s *Set) ObserveRequest(ingress, provider, model string, status int, total, upstream time.Duration, bytesIn, bytesOut int) {
	i, p, m := s.canon(ingress, provider, model)
	k := reqKey{ingress: i, provider: p, model: m, status: canonStatus(status)}
	r, ok := s.requests.load(k)
	if !ok {
		r = s.requests.loadOrCreate(k, func() reqSeries { return s.newReqSeries(k) })
	}
	r.count.Inc()
	r.lat.total.observe(total)
	if upstream > 0 {
		r.lat.upstream.observe(upstream)
	}
	r.lat.overhead.observe(total - upstream)
	if bytesIn > 0 {
		r.lat.ip.bytesIn.Add(bytesIn)
	}
	if bytesOut > 0 {
		r.lat.ip.bytesOut.Add(bytesOut)
	}
}

// ObserveTTFT records the time from receiving a request to sending its
// first content event.
func (s *Set) ObserveTTFT(ingress, provider, model string, ttft time.Duration) {
	i, p, m := s.canon(ingress, provider, model)
	s.latFor(latKey{i, p, m}).ttft.observe(ttft)
}

// AddTokens adds token counts reported in an upstream usage block.
func (s *Set) AddTokens(provider, model string, in, out int) {
	k := s.known.Load()
	pm := s.providerModelFor(pmKey{k.providers.canon(provider), k.models.canon(model)})
	if in > 0 {
		pm.tokensIn.Add(in)
	}
	if out > 0 {
		pm.tokensOut.Add(out)
	}
}

// StreamStarted and StreamEnded bracket every streamed response.
func (s *Set) StreamStarted() { s.activeStreams.Inc() }

// StreamEnded must be called once per StreamStarted.
func (s *Set) StreamEnded() { s.activeStreams.Dec() }

// Retry counts a retry of a request against provider.
func (s *Set) Retry(provider string) { s.providerFor(provider).retries.Inc() }

// Cooldown counts a key or provider being put on cooldown.
func (s *Set) Cooldown(provider string) { s.providerFor(provider).cooldowns.Inc() }

// SetBreakerState publishes provider's circuit breaker state
// (BreakerClosed, BreakerHalfOpen or BreakerOpen).
func (s *Set) SetBreakerState(provider string, state int) {
	s.providerFor(provider).breaker.Set(float64(state))
}

// Failover counts a request moving from one provider to another.
func (s *Set) Failover(from, to string) {
	k := s.known.Load()
	key := [2]string{k.providers.canon(from), k.providers.canon(to)}
	c, ok := s.failovers.load(key)
	if !ok {
		c = s.failovers.loadOrCreate(key, func() *vm.Counter {
			return s.vm.NewCounter(nameFailovers + "{" + labels("from", key[0], "to", key[1]) + "}")
		})
	}
	c.Inc()
}

// Slow paths: create series on first use. Every string reaching here is
// already canonical, hence owned by the Set.

func (s *Set) newReqSeries(k reqKey) reqSeries {
	return reqSeries{
		count: s.vm.NewCounter(nameRequests + "{" + labels("ingress", k.ingress, "provider", k.provider, "model", k.model, "status", statusLabel(k.status)) + "}"),
		lat:   s.latFor(latKey{k.ingress, k.provider, k.model}),
	}
}

func (s *Set) latFor(k latKey) *latSeries {
	if l, ok := s.lat.load(k); ok {
		return l
	}
	return s.lat.loadOrCreate(k, func() *latSeries {
		ip := s.ingressProviderFor(ipKey{k.ingress, k.provider})
		pm := s.providerModelFor(pmKey{k.provider, k.model})
		lbl := labels("ingress", k.ingress, "provider", k.provider, "model", k.model)
		return &latSeries{
			total:    s.duration.add(lbl, latencyBuckets),
			ttft:     s.ttft.add(lbl, latencyBuckets),
			upstream: pm.upstream,
			overhead: ip.overhead,
			ip:       ip,
		}
	})
}

func (s *Set) ingressProviderFor(k ipKey) *ingressProvider {
	if v, ok := s.perIngest.load(k); ok {
		return v
	}
	return s.perIngest.loadOrCreate(k, func() *ingressProvider {
		lbl := labels("ingress", k.ingress, "provider", k.provider)
		return &ingressProvider{
			overhead: s.overhead.add(lbl, overheadBuckets),
			bytesIn:  s.vm.NewCounter(nameBytesIn + "{" + lbl + "}"),
			bytesOut: s.vm.NewCounter(nameBytesOut + "{" + lbl + "}"),
		}
	})
}

func (s *Set) providerModelFor(k pmKey) *providerModel {
	if v, ok := s.perModel.load(k); ok {
		return v
	}
	return s.perModel.loadOrCreate(k, func() *providerModel {
		lbl := labels("provider", k.provider, "model", k.model)
		return &providerModel{
			upstream:  s.upstream.add(lbl, latencyBuckets),
			tokensIn:  s.vm.NewCounter(nameTokens + "{" + lbl + `,direction="input"}`),
			tokensOut: s.vm.NewCounter(nameTokens + "{" + lbl + `,direction="output"}`),
		}
	})
}

func (s *Set) providerFor(provider string) *providerSeries {
	p := s.known.Load().providers.canon(provider)
	if v, ok := s.providers.load(p); ok {
		return v
	}
	return s.providers.loadOrCreate(p, func() *providerSeries {
		lbl := "{" + labels("provider", p) + "}"
		return &providerSeries{
			retries:   s.vm.NewCounter(nameRetries + lbl),
			cooldowns: s.vm.NewCounter(nameCooldowns + lbl),
			breaker:   s.vm.NewGauge(nameBreaker+lbl, nil),
		}
	})
}
