package keypool

import "time"

// OutcomeKind says what a finished request tells us about the key it used.
type OutcomeKind uint8

const (
	// OK: the key worked. Client errors such as 400 or 404 count as OK, since
	// they say nothing against the key.
	OK OutcomeKind = iota
	// Failed: transport error, timeout or 5xx. Counts against the key's health
	// window; many of them make the key unhealthy, one never does.
	Failed
	// RateLimited: 429. The key cools down; its health is untouched.
	RateLimited
	// Unauthorized: the upstream said the credential is bad (see
	// wire.CredentialRejected). The key is out for a growing spell, then probed.
	Unauthorized
	// Ignored: no verdict (the client went away before the upstream answered,
	// or the relay never sent the request). Only the in-flight count changes.
	Ignored
)

// String names the kind for logs.
func (k OutcomeKind) String() string {
	switch k {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case RateLimited:
		return "rate_limited"
	case Unauthorized:
		return "unauthorized"
	case Ignored:
		return "ignored"
	}
	return "unknown"
}

// Outcome is what Lease.Release needs to update the key's state.
type Outcome struct {
	Kind OutcomeKind
	// Status is the upstream HTTP status, 0 when none was received.
	Status int
	// RetryAfter is the parsed Retry-After of a 429 (see wire.ParseRetryAfter);
	// 0 means absent, and the pool then backs off exponentially.
	RetryAfter time.Duration
}

// StatusOutcome classifies an upstream HTTP status.
func StatusOutcome(status int, retryAfter time.Duration) Outcome {
	o := Outcome{Status: status, RetryAfter: retryAfter}
	switch {
	case status == 429:
		o.Kind = RateLimited
	case status == 408 || status >= 500 || status <= 0:
		o.Kind = Failed
	default:
		// Client errors, 401 and 403 included, say nothing against the key
		// by their status alone: a client can provoke them (a foreign
		// organization header, a model the key may not use). The caller
		// passes RejectedOutcome when the body says the credential is bad.
		o.Kind = OK
	}
	return o
}

// RejectedOutcome is the outcome of an answer that says the key's
// credential is bad (wire.CredentialRejected): the key goes out of service
// for a growing spell.
func RejectedOutcome(status int) Outcome { return Outcome{Kind: Unauthorized, Status: status} }

// ErrorOutcome is the outcome of a transport failure (connect error, reset,
// timeout) before any status was received.
func ErrorOutcome() Outcome { return Outcome{Kind: Failed} }
