package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fastjson"
)

// The protocol matrix: every official SDK as a client of the proxy, against
// every upstream type, each served by the standalone mock over loopback
// (or the in-process mock). One mock server and one proxy serve the whole
// matrix so that it stays quick.

// matrixTokens is the answer length of every upstream in the matrix.
const matrixTokens = 7

// upstreamCase is one upstream of the matrix: the model that routes to it
// and the protocol it speaks.
type upstreamCase struct {
	name  string
	model string
	proto wire.Protocol
	// recorded: the mock server sees its requests (not the in-process mock).
	recorded bool
}

var matrixUpstreams = []upstreamCase{
	{name: "openai", model: "up-openai", proto: wire.OpenAIChat, recorded: true},
	{name: "openai-responses", model: "up-responses", proto: wire.OpenAIResponses, recorded: true},
	{name: "claude", model: "up-claude", proto: wire.Anthropic, recorded: true},
	{name: "gemini", model: "up-gemini", proto: wire.Gemini, recorded: true},
	{name: "mock", model: "up-local", proto: wire.OpenAIChat},
}

// recorder keeps the bodies the mock upstream received.
type recorder struct {
	mu     sync.Mutex
	bodies []upRequest
}

type upRequest struct{ path, body string }

func (r *recorder) record(path string, body []byte) {
	r.mu.Lock()
	r.bodies = append(r.bodies, upRequest{path, string(body)})
	r.mu.Unlock()
}

// find returns the last request whose body contains marker.
func (r *recorder) find(marker string) (upRequest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.bodies) - 1; i >= 0; i-- {
		if strings.Contains(r.bodies[i].body, marker) {
			return r.bodies[i], true
		}
	}
	return upRequest{}, false
}

// matrixErrorStatuses are the upstream errors the matrix injects.
var matrixErrorStatuses = []int{429, 529, 503}

// errorSuffix names the providers and models kept for one injected status.
func errorSuffix(status int) string { return "-e" + strconv.Itoa(status) }

func errorSuffixes() []string {
	var out []string
	for _, st := range matrixErrorStatuses {
		out = append(out, errorSuffix(st))
	}
	return out
}

// matrixFixture starts the mock upstream and a proxy routing one model to
// each upstream type, and returns the proxy's base URL.
func matrixFixture(t *testing.T) (base string, rec *recorder) {
	t.Helper()
	rec = &recorder{}
	s := mock.NewServer(mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: matrixTokens}, OnRequest: rec.record})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("mock shutdown: %v", err)
		}
		<-done
	})
	up := "http://" + ln.Addr().String()
	typed := func(name, typ, baseURL, model string) config.Provider {
		p := openaiProvider(name, baseURL, model)
		p.Type = typ
		return p
	}
	cfg := baseConfig()
	// Each upstream also gets one provider per injected error status: a 429
	// cools its key down and repeated 5xx trip its breaker, which must not
	// leak into the other cases.
	for _, suffix := range append([]string{""}, errorSuffixes()...) {
		cfg.Providers = append(cfg.Providers,
			typed("p-openai"+suffix, config.TypeOpenAI, up+"/v1", "up-openai"+suffix),
			typed("p-responses"+suffix, config.TypeOpenAIResponses, up+"/v1", "up-responses"+suffix),
			typed("p-claude"+suffix, config.TypeClaude, up+"/v1", "up-claude"+suffix),
			typed("p-gemini"+suffix, config.TypeGemini, up+"/v1beta", "up-gemini"+suffix),
			mockProvider("p-local"+suffix, matrixTokens, "up-local"+suffix),
		)
	}
	for i := range cfg.Providers {
		if strings.Contains(cfg.Providers[i].Name, "-e") {
			// Every client sends each error case: the breaker would open.
			cfg.Providers[i].Breaker.Disabled = true
		}
	}
	_, base = startProxy(t, cfg)
	return base, rec
}

// testImage is the image every image turn attaches (a PNG signature and a
// few bytes: nothing on the way decodes it).
var testImage = []byte("\x89PNG\r\n\x1a\nmock-image-bytes")

func testImageB64() string     { return base64.StdEncoding.EncodeToString(testImage) }
func testImageDataURL() string { return "data:image/png;base64," + testImageB64() }

// upstreamImage finds the image in a request body of protocol p and
// returns it as a data URL, or "" when the body carries none in p's shape.
func upstreamImage(p wire.Protocol, body string) string {
	v, err := fastjson.Parse(body)
	if err != nil {
		return ""
	}
	found := ""
	walk(v, func(o *fastjson.Value) {
		if found != "" {
			return
		}
		switch p {
		case wire.OpenAIChat:
			if string(o.GetStringBytes("type")) == "image_url" {
				found = string(o.GetStringBytes("image_url", "url"))
			}
		case wire.OpenAIResponses:
			if string(o.GetStringBytes("type")) == "input_image" {
				found = string(o.GetStringBytes("image_url"))
			}
		case wire.Anthropic:
			if string(o.GetStringBytes("type")) == "image" && string(o.GetStringBytes("source", "type")) == "base64" {
				found = "data:" + string(o.GetStringBytes("source", "media_type")) + ";base64," + string(o.GetStringBytes("source", "data"))
			}
		case wire.Gemini:
			if d := o.Get("inlineData"); d != nil {
				found = "data:" + string(d.GetStringBytes("mimeType")) + ";base64," + string(d.GetStringBytes("data"))
			}
		}
	})
	return found
}

// walk calls f on every object in v, depth first.
func walk(v *fastjson.Value, f func(*fastjson.Value)) {
	switch v.Type() {
	case fastjson.TypeObject:
		f(v)
		v.GetObject().Visit(func(_ []byte, c *fastjson.Value) { walk(c, f) })
	case fastjson.TypeArray:
		for _, c := range v.GetArray() {
			walk(c, f)
		}
	}
}

// toolCall is one call as a client received it; args is the decoded JSON.
type toolCall struct {
	id, name string
	args     map[string]any
}

// wantCalls is the mock's tool-call answer as the client should see it.
func wantCalls(t *testing.T) []toolCall {
	t.Helper()
	var out []toolCall
	for _, c := range mock.ToolCalls() {
		out = append(out, toolCall{id: c.ID, name: c.Name, args: decodeArgs(t, c.Arguments)})
	}
	return out
}

func decodeArgs(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("tool arguments %q are not a JSON object: %v", s, err)
	}
	return m
}

// toolOutput is the result the client sends back for a call.
func toolOutput(c toolCall) string { return `{"result":"sunny for ` + c.name + `"}` }

// weatherSchema is the JSON schema every client declares for both tools.
var weatherSchema = map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}, "tz": map[string]any{"type": "string"}},
}

// query is one request a matrix client sends.
type query struct {
	model  string
	stream bool
	prompt string
	image  bool // attach testImage as a data URL in the client's own format
	tools  bool // declare get_weather and get_time
	// results, when set, continues the conversation: the assistant's turn
	// made these calls and the client answers each with toolOutput.
	results []toolCall
	hdr     map[string]string
}

// turn is what a client made of one answer.
type turn struct {
	text    string
	finish  string // the SDK's own finish/stop value
	in, out int64
	calls   []toolCall
}

func encodeArgs(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
