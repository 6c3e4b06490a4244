package cache

import (
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

func keyOf(t *testing.T, body string) Key {
	t.Helper()
	v, err := fastjson.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	b.Reset()
	b.FieldString("provider", "p")
	if !b.Body(v) {
		t.Fatalf("Body refused %s", body)
	}
	return b.Sum()
}

func TestKeyNormalisation(t *testing.T) {
	base := `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]}`
	same := []string{
		`{ "messages" : [{"role":"user","content":"hi"}], "temperature":0, "model":"other-alias" }`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"stream":true,"user":"u1","metadata":{"x":1},"store":true}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"prompt_cache_key":"k","safety_identifier":"s"}`,
	}
	differ := []string{
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi!"}]}`,
		`{"model":"m","temperature":0,"messages":[{"content":"hi","role":"user"}],"max_tokens":5}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}`,
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"n":2}`,
	}
	want := keyOf(t, base)
	for _, b := range same {
		if keyOf(t, b) != want {
			t.Errorf("key of %s differs from the base's; want the same", b)
		}
	}
	for _, b := range differ {
		if keyOf(t, b) == want {
			t.Errorf("key of %s equals the base's; want another", b)
		}
	}
	// Length-prefixed parts: moving bytes between fields changes the key.
	var a, c Builder
	a.Reset()
	a.FieldString("provider", "ab")
	a.FieldString("model", "c")
	c.Reset()
	c.FieldString("provider", "a")
	c.FieldString("model", "bc")
	if a.Sum() == c.Sum() {
		t.Error("fields ab|c and a|bc give the same key")
	}
}

func TestSampledAndStateful(t *testing.T) {
	tests := []struct {
		in      wire.Protocol
		body    string
		sampled bool
	}{
		{wire.OpenAIChat, `{"temperature":0}`, false},
		{wire.OpenAIChat, `{"temperature":0.0}`, false},
		{wire.OpenAIChat, `{"temperature":0.2}`, true},
		{wire.OpenAIChat, `{}`, true}, // the default is 1
		{wire.OpenAIChat, `{"temperature":"0"}`, true},
		{wire.Anthropic, `{"temperature":0}`, false},
		{wire.Anthropic, `{"max_tokens":5}`, true},
		{wire.OpenAIResponses, `{"temperature":0}`, false},
		{wire.Gemini, `{"generationConfig":{"temperature":0}}`, false},
		{wire.Gemini, `{"temperature":0}`, true}, // not where Gemini reads it
		{wire.Gemini, `{"generationConfig":{"topK":1}}`, true},
	}
	for _, tc := range tests {
		if got := Sampled(tc.in, fastjson.MustParse(tc.body)); got != tc.sampled {
			t.Errorf("Sampled(%v, %s) = %v, want %v", tc.in, tc.body, got, tc.sampled)
		}
	}
	for body, want := range map[string]bool{
		`{"previous_response_id":"resp_1"}`: true, `{"conversation":"c"}`: true, `{"background":true}`: true,
		`{"background":false}`: false, `{"previous_response_id":null}`: false, `{"input":"x"}`: false,
	} {
		if got := Stateful(fastjson.MustParse(body)); got != want {
			t.Errorf("Stateful(%s) = %v, want %v", body, got, want)
		}
	}
}
