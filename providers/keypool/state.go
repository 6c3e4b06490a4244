package keypool

import "time"

// State is a key's availability as shown on /health.
type State uint8

const (
	Healthy State = iota
	// Cooldown: rate limited until CooldownUntil.
	Cooldown
	// Unhealthy: too many failures in the window; used only when no healthy
	// key is left, and probed one request at a time after UnhealthyUntil.
	Unhealthy
	// Disabled: the operator took it out, or the upstream rejected its
	// credential (out until DisabledUntil, then probed).
	Disabled
)

// String returns healthy, cooldown, unhealthy or disabled.
func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Cooldown:
		return "cooldown"
	case Unhealthy:
		return "unhealthy"
	case Disabled:
		return "disabled"
	}
	return "unknown"
}

// MarshalText lets State encode as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// KeyState is one key's public state. It never carries the secret.
type KeyState struct {
	Label          string    `json:"label"`
	State          State     `json:"state"`
	InFlight       int       `json:"in_flight"`
	Weight         int       `json:"weight"`
	MaxConcurrent  int       `json:"max_concurrent,omitzero"`
	CooldownUntil  time.Time `json:"cooldown_until,omitzero"`  // zero unless cooling down
	UnhealthyUntil time.Time `json:"unhealthy_until,omitzero"` // zero unless unhealthy
	DisabledUntil  time.Time `json:"disabled_until,omitzero"`  // end of a credential rejection's spell
	// WindowSuccesses and WindowFailures count the outcomes in the sliding
	// health window.
	WindowSuccesses int `json:"window_successes"`
	WindowFailures  int `json:"window_failures"`
}
