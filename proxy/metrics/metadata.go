package metrics

import (
	"bytes"
)

// family is the metadata Prometheus wants before a family's first sample.
type family struct{ typ, help string }

// families describes every counter and gauge this package exports (the
// histograms write their own metadata). Without it scrapers read them as
// untyped, and `promtool check metrics` complains for each.
var families = map[string]family{
	nameRequests:       {"counter", "Requests answered, by ingress protocol, provider, model and HTTP status."},
	nameBytesIn:        {"counter", "Bytes of client request bodies."},
	nameBytesOut:       {"counter", "Bytes sent to clients."},
	nameTokens:         {"counter", "Tokens reported by upstream usage, by provider, model and direction."},
	nameActiveStreams:  {"gauge", "Streaming answers being relayed now."},
	namePool:           {"gauge", "Upstream connections in use and requests waiting for one, by provider."},
	nameRetries:        {"counter", "Upstream attempts after the first, by provider."},
	nameCooldowns:      {"counter", "Keys put in cooldown after a 429, by provider."},
	nameFailovers:      {"counter", "Requests that moved from one provider to another."},
	nameBreaker:        {"gauge", "Circuit breaker state by provider: 0 closed, 1 half-open, 2 open."},
	nameClientRequests: {"counter", "Requests by named client and HTTP status."},
	nameUsageWritten:   {"counter", "Usage records written to the store."},
	nameUsageDropped:   {"counter", "Usage records lost: the queue was full or the store failed (the requests were served)."},
	nameSharedFailures: {"counter", "Limit checks and spends the shared limit store (Redis) could not take: it failed, or failed less than a second before (checks are then decided by store.limits_fail and store.budgets_fail)."},
	nameKeys:           {"gauge", "Upstream API keys (accounts, for subscription providers) by provider and state: healthy, cooldown, unhealthy, disabled."},
	nameCacheLookups:   {"counter", "Requests the response cache looked at, by provider, model and result: hit (answered from the cache, no upstream call, no token usage), miss, or bypass (not looked up)."},
	nameCacheEntries:   {"gauge", "Answers held by the in-memory response cache."},
	nameCacheBytes:     {"gauge", "Bytes held by the in-memory response cache, with a fixed overhead per entry."},
	nameCacheEvictions: {"counter", "Answers the in-memory response cache evicted to stay within its bounds."},
	nameCacheErrors:    {"counter", "Failed reads and writes of the response cache's store (Redis), each served as a miss."},
	nameCacheDropped:   {"counter", "Answers not stored because too many writes to the cache's store were under way."},
}

// annotate copies the exposition in src to dst, writing # HELP and # TYPE
// before the first sample of each family in families that has none yet.
func annotate(dst, src []byte) []byte {
	seen := map[string]bool{}
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			src = nil
		}
		if bytes.HasPrefix(line, []byte("# TYPE ")) {
			if f := bytes.Fields(line); len(f) >= 3 {
				seen[string(f[2])] = true
			}
		} else if len(line) > 0 && line[0] != '#' {
			name := line
			if i := bytes.IndexAny(line, "{ "); i >= 0 {
				name = line[:i]
			}
			if f, ok := families[string(name)]; ok && !seen[string(name)] {
				seen[string(name)] = true
				dst = append(dst, "# HELP "...)
				dst = append(dst, name...)
				dst = append(dst, ' ')
				dst = append(dst, f.help...)
				dst = append(dst, "\n# TYPE "...)
				dst = append(dst, name...)
				dst = append(dst, ' ')
				dst = append(dst, f.typ...)
				dst = append(dst, '\n')
			}
		}
		dst = append(dst, line...)
	}
	return dst
}
