// Package retry decides whether and where a failed upstream attempt is tried
// again.
//
// Policy and Plan walk a request through other keys of the same provider and
// then the model's fallback chain, with jittered exponential backoff, a cap
// on attempts and on total time, and never once a byte reached the client.
// Classify sorts upstream errors and statuses. (Admission control, which
// bounds concurrent work, is package admission.)
package retry
