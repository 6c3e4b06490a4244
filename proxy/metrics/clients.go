package metrics

import (
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
)

// clientKey is one client name and status.
type clientKey struct {
	client string
	status int16
}

// clientSeries counts requests per named client (from the config's
// clients list; anything else is "other") and status.
type clientSeries struct {
	known  atomic.Pointer[labelSet]
	series cowMap[clientKey, *vm.Counter]
}

// SetClients replaces the accepted client names, e.g. after a reload.
func (s *Set) SetClients(names []string) {
	ls := newLabelSet(names)
	s.clients.known.Store(&ls)
}

// ClientRequest counts one request of a named client.
func (s *Set) ClientRequest(client string, status int) {
	name := Other
	if ls := s.clients.known.Load(); ls != nil {
		name = ls.canon(client)
	}
	k := clientKey{client: name, status: canonStatus(status)}
	c, ok := s.clients.series.load(k)
	if !ok {
		c = s.clients.series.loadOrCreate(k, func() *vm.Counter {
			return s.vm.GetOrCreateCounter(nameClientRequests + "{" +
				labels("client", name, "status", statusLabel(k.status)) + "}")
		})
	}
	c.Inc()
}
