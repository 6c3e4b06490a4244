// Package metrics holds the proxy's Prometheus metrics and writes them in the
// text exposition format for GET /metrics.
//
// Counters and gauges live in a VictoriaMetrics metrics.Set: it has no
// dependency on net/http (so it fits a fasthttp server), writes to any
// io.Writer, and its counters are a single atomic add. prometheus/client_golang
// would bring its registry, protobuf and net/http handler for features the
// proxy does not use. Durations use this package's own cumulative-bucket
// histogram (see histogram.go for why not VictoriaMetrics' Histogram).
//
// Hot-path methods look their series up in copy-on-write maps keyed by the
// label tuple, so a steady-state observation costs a few atomic adds and no
// allocation, lock or string building.
//
// Label values are bounded: ingress is one of the wire protocol names,
// provider and model must be among the names given in Options (from the
// config; SetLabels swaps them on reload) and anything else is counted as
// "other". Status is the HTTP status code, or "other" when there was none.
//
// Exported series (all prefixed proxy_):
//
//	requests_total{ingress,provider,model,status}            counter
//	request_duration_seconds{ingress,provider,model}         histogram, total time
//	upstream_duration_seconds{provider,model}                histogram, time waiting on upstream
//	overhead_duration_seconds{ingress,provider}              histogram, total minus upstream
//	ttft_seconds{ingress,provider,model}                     histogram, time to first token
//	request_bytes_total{ingress,provider}                    counter, client request bodies
//	response_bytes_total{ingress,provider}                   counter, bytes sent to clients
//	tokens_total{provider,model,direction="input"|"output"}  counter, from upstream usage
//	active_streams                                           gauge
//	upstream_pool_connections{provider,state="in_use"|"waiting"} gauge (callbacks)
//	retries_total{provider}, cooldowns_total{provider}       counter
//	failovers_total{from,to}                                 counter
//	breaker_state{provider}                                  gauge: 0 closed, 1 half-open, 2 open
//	client_requests_total{client,status}                     counter, per named client
//	keys{provider,state}                                     gauge (callbacks): keys or accounts per state
package metrics

import (
	"bytes"
	"io"
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
)

// Metric names.
const (
	nameRequests       = "proxy_requests_total"
	nameDuration       = "proxy_request_duration_seconds"
	nameUpstream       = "proxy_upstream_duration_seconds"
	nameOverhead       = "proxy_overhead_duration_seconds"
	nameTTFT           = "proxy_ttft_seconds"
	nameBytesIn        = "proxy_request_bytes_total"
	nameBytesOut       = "proxy_response_bytes_total"
	nameTokens         = "proxy_tokens_total"
	nameActiveStreams  = "proxy_active_streams"
	namePool           = "proxy_upstream_pool_connections"
	nameRetries        = "proxy_retries_total"
	nameCooldowns      = "proxy_cooldowns_total"
	nameFailovers      = "proxy_failovers_total"
	nameBreaker        = "proxy_breaker_state"
	nameClientRequests = "proxy_client_requests_total"
	nameKeys           = "proxy_keys"
	nameUsageWritten   = "proxy_usage_records_written_total"
	nameUsageDropped   = "proxy_usage_records_dropped_total"
	nameSharedFailures = "proxy_shared_limit_failures_total"
)

// Breaker states for SetBreakerState.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// Options bounds the label values.
type Options struct {
	// Providers are the configured provider names.
	Providers []string
	// Models are every model name the config knows (client-facing names
	// and aliases as well as upstream names).
	Models []string
	// ProcessMetrics adds Go runtime and process series (RSS, CPU,
	// goroutines, open fds) to WritePrometheus.
	ProcessMetrics bool
}

// Set is the proxy's metrics registry. Safe for concurrent use.
type Set struct {
	vm      *vm.Set
	known   atomic.Pointer[knownLabels]
	process bool

	requests  cowMap[reqKey, reqSeries]
	lat       cowMap[latKey, *latSeries]
	perIngest cowMap[ipKey, *ingressProvider]
	perModel  cowMap[pmKey, *providerModel]
	providers cowMap[string, *providerSeries]
	failovers cowMap[[2]string, *vm.Counter]
	pools     cowMap[string, *poolFuncs]
	keys      cowMap[string, *keyFuncs]

	activeStreams *vm.Gauge
	clients       clientSeries

	duration, upstream, overhead, ttft *histFamily
}

// New returns an empty Set whose label values are bounded by opts.
func New(opts Options) *Set {
	s := &Set{
		vm:       vm.NewSet(),
		process:  opts.ProcessMetrics,
		duration: &histFamily{name: nameDuration, help: "Total request time as seen by the proxy."},
		upstream: &histFamily{name: nameUpstream, help: "Time spent waiting on the upstream provider."},
		overhead: &histFamily{name: nameOverhead, help: "Time the proxy added: total minus upstream time."},
		ttft:     &histFamily{name: nameTTFT, help: "Time from request to the first content token sent."},
	}
	s.SetLabels(opts.Providers, opts.Models)
	s.activeStreams = s.vm.NewGauge(nameActiveStreams, nil)
	s.vm.RegisterMetricsWriter(func(w io.Writer) {
		writeFamilies(w, []*histFamily{s.duration, s.upstream, s.overhead, s.ttft})
	})
	return s
}

// SetLabels replaces the accepted provider and model names, e.g. after a
// config reload. Series already created stay.
func (s *Set) SetLabels(providers, models []string) {
	s.known.Store(&knownLabels{providers: newLabelSet(providers), models: newLabelSet(models)})
}

// WritePrometheus writes every series in Prometheus text format.
func (s *Set) WritePrometheus(w io.Writer) {
	var buf bytes.Buffer
	s.vm.WritePrometheus(&buf)
	_, _ = w.Write(annotate(make([]byte, 0, buf.Len()+4096), buf.Bytes()))
	if s.process {
		vm.WriteProcessMetrics(w)
	}
}
