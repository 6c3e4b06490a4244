// Package keypool spreads an upstream provider's requests over its API keys
// (or accounts) and tracks each key's health.
//
// Selection picks, among keys that are enabled, not cooling down and not
// unhealthy, the one with the fewest in-flight requests per unit of weight;
// ties go to the key that is furthest behind its weighted share, then to a
// rotating start index, so sequential traffic is spread by weight too.
//
// Health is judged from a sliding window of recent outcomes: one failed
// request never takes a key out. A 429 puts a key in a jittered cooldown that
// honours Retry-After; a 401/403 disables it until Reenable, a reload (a new
// Pool) or a passing health check.
//
// Acquire only reads and CASes atomics; Release takes a per-key mutex that is
// contended only by requests finishing on the same key. Neither allocates.
// Secrets never leave the pool except through Lease.Secret: Snapshot reports
// labels only.
package keypool
