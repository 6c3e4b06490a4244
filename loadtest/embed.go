package loadtest

// EmbedOptions shape the answers of the embedded mock upstream.
type EmbedOptions struct {
	// Profile draws each answer's TTFT, time per token and length; its
	// Wrap goes around the mock's handler.
	Profile MockProfile
}

// Embedded is the in-process setup of the default mode: the mock upstream
// and the proxy in front of it, both on loopback with ephemeral ports.
type Embedded struct {
	Target   string           // base URL of the proxy; requests go to {Target}/v1/chat/completions
	Baseline string           // base URL of the mock upstream directly (same API)
	APIKey   string           // sent as Authorization: Bearer
	Sample   func() Resources // RSS, CPU seconds and goroutines of the proxy under test
	// PID is the proxy's process when it runs apart from the generator; 0
	// when it shares this process (then its figures include the generator).
	PID  int
	Stop func() error
}

// EmbedFunc starts the embedded setup.
type EmbedFunc func(o EmbedOptions) (*Embedded, error)
