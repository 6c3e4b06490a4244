package upstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

func newProvider(t *testing.T, proto wire.Protocol, base string, keys ...string) *Provider {
	t.Helper()
	p, err := New(Config{Name: "p", Protocol: proto, BaseURL: base, Keys: keys, Models: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBuildRequest checks the URL and authentication each upstream protocol
// gets.
func TestBuildRequest(t *testing.T) {
	tests := []struct {
		name     string
		proto    wire.Protocol
		base     string
		call     providers.Call
		client   map[string]string
		uri      string
		auth     map[string]string // header -> value; "" means absent
		accept   string
		reqID    string
		anthropV string
	}{
		{name: "openai", proto: wire.OpenAIChat, base: "https://api.example.com/v1/", call: providers.Call{Model: "m"},
			uri: "https://api.example.com/v1/chat/completions", auth: map[string]string{"Authorization": "Bearer k1", "X-Api-Key": ""}},
		{name: "openai/stream", proto: wire.OpenAIChat, base: "http://127.0.0.1:9001/v1", call: providers.Call{Model: "m", Stream: true, RequestID: "req_1"},
			uri: "http://127.0.0.1:9001/v1/chat/completions", auth: map[string]string{"Authorization": "Bearer k1"}, accept: "text/event-stream", reqID: "req_1"},
		{name: "responses", proto: wire.OpenAIResponses, base: "https://api.example.com/v1", call: providers.Call{Model: "m"},
			uri: "https://api.example.com/v1/responses", auth: map[string]string{"Authorization": "Bearer k1"}},
		{name: "anthropic", proto: wire.Anthropic, base: "https://api.example.com/v1", call: providers.Call{Model: "m"},
			uri: "https://api.example.com/v1/messages", auth: map[string]string{"X-Api-Key": "k1", "Authorization": ""}, anthropV: "2023-06-01"},
		{name: "anthropic/client-version", proto: wire.Anthropic, base: "https://api.example.com/v1", call: providers.Call{Model: "m", Ingress: wire.Anthropic},
			client: map[string]string{"anthropic-version": "2099-01-01", "anthropic-beta": "x"},
			uri:    "https://api.example.com/v1/messages", auth: map[string]string{"X-Api-Key": "k1"}, anthropV: "2099-01-01"},
		{name: "anthropic/count-tokens", proto: wire.Anthropic, base: "https://api.example.com/v1", call: providers.Call{Op: providers.OpCountTokens, Model: "m"},
			uri: "https://api.example.com/v1/messages/count_tokens", auth: map[string]string{"X-Api-Key": "k1"}, anthropV: "2023-06-01"},
		{name: "gemini", proto: wire.Gemini, base: "https://g.example.com/v1beta", call: providers.Call{Model: "gemini-x"},
			uri: "https://g.example.com/v1beta/models/gemini-x:generateContent", auth: map[string]string{"X-Goog-Api-Key": "k1", "Authorization": ""}},
		{name: "gemini/stream", proto: wire.Gemini, base: "https://g.example.com/v1beta", call: providers.Call{Model: "gemini-x", Stream: true},
			uri: "https://g.example.com/v1beta/models/gemini-x:streamGenerateContent?alt=sse", auth: map[string]string{"X-Goog-Api-Key": "k1"}, accept: "text/event-stream"},
		{name: "gemini/count-tokens", proto: wire.Gemini, base: "https://g.example.com/v1beta", call: providers.Call{Op: providers.OpCountTokens, Model: "gemini-x"},
			uri: "https://g.example.com/v1beta/models/gemini-x:countTokens", auth: map[string]string{"X-Goog-Api-Key": "k1"}},
		{name: "client-credentials-replaced", proto: wire.OpenAIChat, base: "https://api.example.com/v1", call: providers.Call{Model: "m"},
			client: map[string]string{"Authorization": "Bearer client", "X-Api-Key": "client", "X-Goog-Api-Key": "client"},
			uri:    "https://api.example.com/v1/chat/completions", auth: map[string]string{"Authorization": "Bearer k1", "X-Api-Key": "", "X-Goog-Api-Key": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.proto, tc.base, "k1")
			var client fasthttp.RequestHeader
			for k, v := range tc.client {
				client.Set(k, v)
			}
			c := tc.call
			c.Header = &client
			c.Body = []byte(`{"x":1}`)
			var req fasthttp.Request
			p.buildRequest(&req, &c)
			if got := req.URI().String(); got != tc.uri {
				t.Fatalf("URI %q, want %q", got, tc.uri)
			}
			if string(req.Header.Method()) != "POST" || string(req.Header.ContentType()) != "application/json" || string(req.Body()) != `{"x":1}` {
				t.Fatalf("method %s content type %s body %s", req.Header.Method(), req.Header.ContentType(), req.Body())
			}
			for k, want := range tc.auth {
				if got := string(req.Header.Peek(k)); got != want {
					t.Fatalf("%s = %q, want %q", k, got, want)
				}
			}
			if got := string(req.Header.Peek("Accept")); got != tc.accept {
				t.Fatalf("Accept %q, want %q", got, tc.accept)
			}
			if got := string(req.Header.Peek("X-Request-Id")); got != tc.reqID {
				t.Fatalf("X-Request-Id %q, want %q", got, tc.reqID)
			}
			if got := string(req.Header.Peek("anthropic-version")); got != tc.anthropV {
				t.Fatalf("anthropic-version %q, want %q", got, tc.anthropV)
			}
		})
	}
}

func TestKeysRoundRobin(t *testing.T) {
	p := newProvider(t, wire.OpenAIChat, "https://api.example.com/v1", "a", "b", "c")
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		var req fasthttp.Request
		p.buildRequest(&req, &providers.Call{Model: "m"})
		seen[string(req.Header.Peek("Authorization"))]++
	}
	for _, k := range []string{"a", "b", "c"} {
		if seen["Bearer "+k] != 10 {
			t.Fatalf("key use %v, want each key 10 times", seen)
		}
	}
}

// TestClientHeadersAllowlist: a client reaches the upstream with the
// version and beta headers of the upstream's own protocol family and the
// headers the operator lets through, never with scoping, browser, routing
// or hop-by-hop headers; the operator's own headers are always sent.
func TestClientHeadersAllowlist(t *testing.T) {
	var src fasthttp.RequestHeader
	for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade",
		"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Cookie", "Model-Provider", "Expect", "Accept-Encoding",
		"OpenAI-Organization", "OpenAI-Project", "Origin", "Referer", "X-Goog-User-Project", "X-Forwarded-For"} {
		src.Set(h, "client-"+h)
	}
	src.Set("OpenAI-Beta", "assistants=v2")
	src.Set("anthropic-version", "2023-06-01")
	src.Add("anthropic-beta", "mid-conversation-system-2026-04-07")
	src.Add("anthropic-beta", "interleaved-thinking-2025-05-14")
	src.Set("X-Trace", "t")
	tests := []struct {
		name     string
		ingress  wire.Protocol
		upstream wire.Protocol
		want     map[string][]string
	}{
		{"openai to openai", wire.OpenAIChat, wire.OpenAIChat, map[string][]string{"Openai-Beta": {"assistants=v2"}}},
		{"chat to responses", wire.OpenAIChat, wire.OpenAIResponses, map[string][]string{"Openai-Beta": {"assistants=v2"}}},
		{"anthropic to anthropic", wire.Anthropic, wire.Anthropic, map[string][]string{
			"Anthropic-Version": {"2023-06-01"},
			"Anthropic-Beta":    {"mid-conversation-system-2026-04-07", "interleaved-thinking-2025-05-14"}}},
		{"anthropic to openai", wire.Anthropic, wire.OpenAIChat, map[string][]string{}},
		{"openai to gemini", wire.OpenAIChat, wire.Gemini, map[string][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Config{Name: "p", Protocol: tc.upstream, BaseURL: "https://up.example/v1", Keys: []string{"k"},
				Headers: [][2]string{{"OpenAI-Organization", "org-operator"}}, ForwardHeaders: []string{"X-Trace"}})
			if err != nil {
				t.Fatal(err)
			}
			var req fasthttp.Request
			p.buildRequest(&req, &providers.Call{Model: "m", Header: &src, Ingress: tc.ingress})
			want := map[string][]string{"X-Trace": {"t"}, "Openai-Organization": {"org-operator"}}
			for k, v := range tc.want {
				want[k] = v
			}
			got := map[string][]string{}
			for k, v := range req.Header.All() {
				got[string(k)] = append(got[string(k)], string(v))
			}
			for k, v := range got {
				if strings.HasPrefix(v[0], "client-") {
					t.Errorf("client header %s: %q reached the upstream", k, v)
				}
			}
			for k, v := range want {
				if strings.Join(got[k], "|") != strings.Join(v, "|") {
					t.Errorf("header %s = %q, want %q", k, got[k], v)
				}
			}
			if tc.upstream != wire.Anthropic && len(got["Anthropic-Beta"]) > 0 {
				t.Errorf("anthropic-beta sent to a %v upstream", tc.upstream)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want wire.Kind
	}{
		{fasthttp.ErrTimeout, wire.Timeout},
		{fasthttp.ErrDialTimeout, wire.Timeout},
		{fmt.Errorf("wrapped: %w", fasthttp.ErrTimeout), wire.Timeout},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, wire.Timeout},
		{fasthttp.ErrNoFreeConns, wire.Unavailable},
		{io.EOF, wire.BadGateway},
		{fasthttp.ErrConnectionClosed, wire.BadGateway},
		{errors.New("connection refused"), wire.BadGateway},
	}
	for _, tc := range tests {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, base := range []string{"ftp://x/v1", "://nope", "http:///v1", "api.example.com/v1"} {
		if _, err := New(Config{Name: "p", BaseURL: base}); err == nil {
			t.Errorf("New accepted base_url %q", base)
		}
	}
}

// TestBaseURLConventions: a base URL may name only the host, as the
// vendors' SDKs spell it, or include the API version path.
func TestBaseURLConventions(t *testing.T) {
	tests := []struct {
		proto     wire.Protocol
		base, uri string
	}{
		{wire.Anthropic, "https://api.anthropic.com", "https://api.anthropic.com/v1/messages"},
		{wire.Anthropic, "https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"},
		{wire.Anthropic, "https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages"},
		{wire.Gemini, "https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent"},
		{wire.Gemini, "https://generativelanguage.googleapis.com/v1beta", "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent"},
		{wire.OpenAIChat, "https://api.openai.com", "https://api.openai.com/v1/chat/completions"},
		{wire.OpenAIChat, "https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"},
		{wire.OpenAIResponses, "https://gw.example.com/openai/v1", "https://gw.example.com/openai/v1/responses"},
	}
	for _, tc := range tests {
		p := newProvider(t, tc.proto, tc.base, "k")
		var req fasthttp.Request
		p.buildRequest(&req, &providers.Call{Model: "g"})
		if got := req.URI().String(); got != tc.uri {
			t.Errorf("%v %s: %s, want %s", tc.proto, tc.base, got, tc.uri)
		}
	}
}
