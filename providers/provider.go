// Package providers defines what the proxy asks of an upstream provider and
// the registry that picks one for a model.
package providers

import (
	"io"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// Call is one request to a provider, with the body already in the
// provider's protocol.
type Call struct {
	// Op is the operation asked for (chat, count tokens, ...).
	Op Op
	// Model is the upstream model name (for Gemini it goes into the URL).
	Model  string
	Stream bool
	Body   []byte
	// Header holds the client's request headers; providers forward only the
	// version and beta headers of the client's protocol family (Ingress).
	Header *fasthttp.RequestHeader
	// Ingress is the protocol the client spoke.
	Ingress wire.Protocol
	// RequestID is sent upstream as X-Request-Id for correlation.
	RequestID string
	// Key is the credential to send, leased by the caller from the
	// provider's key pool; empty lets the provider pick one itself.
	Key string
	// Extra are headers a provider adds for this call alone (an account's
	// id beside its token); set by providers wrapping another, never from
	// client input.
	Extra [][2]string
}

// Op names an upstream operation.
type Op uint8

const (
	// OpGenerate produces a model answer (chat completion, message, response, generateContent).
	OpGenerate Op = iota
	// OpCountTokens counts input tokens where the upstream can.
	OpCountTokens
	// OpEmbed computes embeddings (OpenAI /embeddings, Gemini
	// batchEmbedContents).
	OpEmbed
	// OpComplete is OpenAI's legacy text completion (/completions).
	OpComplete
)

// Result is a provider's answer. Exactly one of Body or Stream is set.
// The caller must call Release once done with Body, or hand Stream to a relay
// (which closes it) and then call Release.
type Result struct {
	Status      int
	ContentType []byte
	// RetryAfter is the upstream's Retry-After header, if any.
	RetryAfter []byte
	// Body is a complete body (non-stream answers and errors); valid until Release.
	Body []byte
	// Stream is a streaming SSE body (status 200 to a stream request).
	Stream Stream
	// StreamLength is the Stream's Content-Length, or -1 when chunked.
	StreamLength int64

	release Releaser
}

// Releaser returns what a Result's Body or Stream lives in to its pool.
type Releaser interface {
	Release()
}

// ReleaseFunc adapts a func to Releaser.
type ReleaseFunc func()

// Release calls f().
func (f ReleaseFunc) Release() { f() }

// NewResult returns a Result whose Release calls release (which may be nil).
func NewResult(release func()) *Result {
	r := new(Result)
	if release == nil {
		r.Init(nil)
	} else {
		r.Init(ReleaseFunc(release))
	}
	return r
}

// Init makes r a fresh Result whose Release calls rel's (rel may be nil),
// for a Result that lives in the provider's own per-call state: an answer
// then costs one allocation, not a Result and a closure besides.
func (r *Result) Init(rel Releaser) { *r = Result{release: rel, StreamLength: -1} }

// Release returns the Result's resources to their pools.
func (r *Result) Release() {
	if r.release != nil {
		r.release.Release()
		r.release = nil
	}
}

// Provider is an upstream the proxy can forward to.
type Provider interface {
	Name() string
	// Protocol is the wire protocol the upstream speaks.
	Protocol() wire.Protocol
	// Models lists configured model names ("*" means any).
	Models() []string
	// Do performs the call. A transport failure (no HTTP answer at all) is
	// returned as an *Error with the kind the client should see.
	Do(c *Call) (*Result, error)
	// State reports the provider's health for /health.
	State() State
}

// State is a provider's health summary.
type State struct {
	Status string `json:"status"`
	// ConnsOpen counts the provider's open upstream connections (HTTP providers).
	ConnsOpen int `json:"conns_open"`
	// Pending counts requests waiting on or using those connections.
	Pending int `json:"pending"`
	Keys    int `json:"keys"`
}

// Error is a failure to obtain any upstream answer.
type Error struct {
	Kind wire.Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Stream is an upstream answer being read as it arrives; closing it with an
// error aborts the read in progress (the relay's stream.Upstream).
type Stream interface {
	io.Reader
	CloseWithError(err error) error
}

// ErrorResult is an error answer a provider gives itself, in protocol p's
// error shape (a subscription account that cannot be used, an operation
// the upstream lacks).
func ErrorResult(p wire.Protocol, status int, kind wire.Kind, msg string) *Result {
	r := NewResult(nil)
	r.Status = status
	r.ContentType = []byte("application/json")
	r.Body = wire.AppendError(nil, p, kind, msg, "")
	return r
}
