// Package retry decides whether and where a failed upstream attempt is tried
// again, and bounds how much work the proxy accepts at once.
//
// Policy and Plan walk a request through other keys of the same provider and
// then the model's fallback chain, with jittered exponential backoff, a cap
// on attempts and on total time, and never once a byte reached the client.
// Classify and Retryable sort upstream errors and statuses. Limiter and Sem
// bound concurrent requests globally and per provider, rejecting at once
// with a Retry-After suggestion instead of queueing without bound.
package retry
