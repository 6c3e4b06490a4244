package tokencount

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

var protocols = map[string]wire.Protocol{
	"openai":           wire.OpenAIChat,
	"openai-responses": wire.OpenAIResponses,
	"anthropic":        wire.Anthropic,
	"gemini":           wire.Gemini,
}

// TestCountFixtures holds the local count to each upstream's own published
// count (testdata/*.json names its source) within the fixture's bound:
// exact for OpenAI models, a stated percentage for Claude and Gemini.
func TestCountFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var c Counter
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fx, err := fastjson.ParseBytes(raw)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := protocols[string(fx.GetStringBytes("protocol"))]
			if !ok {
				t.Fatalf("unknown protocol %q", fx.GetStringBytes("protocol"))
			}
			want, bound := fx.GetInt("upstream_count"), fx.GetFloat64("bound_pct")
			body := fx.Get("body").MarshalTo(nil)
			got, err := c.Count(p, FamilyFor(string(fx.GetStringBytes("model")), p), body)
			if err != nil {
				t.Fatal(err)
			}
			errPct := 100 * float64(got-want) / float64(want)
			t.Logf("local %d, upstream %d, error %+.1f%% (bound ±%.0f%%)", got, want, errPct, bound)
			if errPct > bound || errPct < -bound {
				t.Fatalf("local count %d is %+.1f%% off the upstream's %d, beyond ±%.0f%%", got, errPct, want, bound)
			}
		})
	}
}

// TestCountTextExact checks o200k counts against known tiktoken counts
// (OpenAI's vision/tokenizer guide and the cookbook examples).
func TestCountTextExact(t *testing.T) {
	var c Counter
	tests := []struct {
		text string
		want int
	}{
		// Google's countTokens example; o200k_base gives the same 10.
		{"The quick brown fox jumps over the lazy dog.", 10},
		{"", 0},
	}
	for _, tc := range tests {
		body := []byte(`{"contents":[{"parts":[{"text":` + string(fastjsonString(tc.text)) + `}]}]}`)
		got, err := c.Count(wire.Gemini, Gemini, body)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%q: %d tokens, want %d", tc.text, got, tc.want)
		}
	}
}

func fastjsonString(s string) []byte {
	var a fastjson.Arena
	return a.NewString(s).MarshalTo(nil)
}

// TestCountImages checks each vendor's image formula on the sizes its
// documentation works through, with the size read from a real PNG header.
func TestCountImages(t *testing.T) {
	tests := []struct {
		family Family
		w, h   int
		low    bool
		want   int
	}{
		{OpenAI, 1024, 1024, false, 765},  // OpenAI: 768x768 after scaling, 4 tiles
		{OpenAI, 2048, 4096, false, 1105}, // OpenAI: 1024x2048 -> 768x1536, 6 tiles
		{OpenAI, 4096, 8192, true, 85},    // low detail is flat
		{Claude, 1092, 1092, false, 1590}, // Anthropic: 1092x1092 is about 1590
		{Claude, 200, 200, false, 54},     // Anthropic: 200x200 is about 54
		{Gemini, 300, 300, false, 258},
		{Gemini, 1000, 1000, false, 4 * 258},
		{Gemini, 0, 0, false, 258}, // unknown size: one tile
	}
	for _, tc := range tests {
		if got := tc.family.imageTokens(tc.w, tc.h, tc.low); got != tc.want {
			t.Errorf("family %d %dx%d low=%v: %d tokens, want %d", tc.family, tc.w, tc.h, tc.low, got, tc.want)
		}
	}
	w, h := imageSize([]byte("data:image/png;base64,"+pngBase64(t, 640, 480)), make([]byte, headerBytes))
	if w != 640 || h != 480 {
		t.Fatalf("PNG header read as %dx%d, want 640x480", w, h)
	}
}

// TestCountRequestParts checks that system, tools, tool results and images
// each add to a count, in every protocol.
func TestCountRequestParts(t *testing.T) {
	img := pngBase64(t, 512, 512)
	tests := []struct {
		name       string
		p          wire.Protocol
		f          Family
		base, more string
	}{
		{"anthropic/system", wire.Anthropic, Claude,
			`{"messages":[{"role":"user","content":"hi"}]}`,
			`{"system":[{"type":"text","text":"You are a careful assistant."}],"messages":[{"role":"user","content":"hi"}]}`},
		{"anthropic/image", wire.Anthropic, Claude,
			`{"messages":[{"role":"user","content":"hi"}]}`,
			`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + img + `"}}]}]}`},
		{"anthropic/tool_result", wire.Anthropic, Claude,
			`{"messages":[{"role":"user","content":"hi"}]}`,
			`{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"72 degrees and sunny"}]}]}`},
		{"gemini/tools", wire.Gemini, Gemini,
			`{"contents":[{"parts":[{"text":"hi"}]}]}`,
			`{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}]}`},
		{"gemini/system", wire.Gemini, Gemini,
			`{"contents":[{"parts":[{"text":"hi"}]}]}`,
			`{"system_instruction":{"parts":[{"text":"Answer in French."}]},"contents":[{"parts":[{"text":"hi"}]}]}`},
		{"responses/instructions", wire.OpenAIResponses, OpenAI,
			`{"input":"hi"}`,
			`{"instructions":"Answer in French.","input":"hi"}`},
		{"responses/function_call_output", wire.OpenAIResponses, OpenAI,
			`{"input":[{"role":"user","content":"hi"}]}`,
			`{"input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"c","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call_output","call_id":"c","output":"72 degrees"}]}`},
		{"responses/image", wire.OpenAIResponses, OpenAI,
			`{"input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}]}`,
			`{"input":[{"role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"data:image/png;base64,` + img + `"}]}]}`},
	}
	var c Counter
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, err := c.Count(tc.p, tc.f, []byte(tc.base))
			if err != nil {
				t.Fatal(err)
			}
			more, err := c.Count(tc.p, tc.f, []byte(tc.more))
			if err != nil {
				t.Fatal(err)
			}
			if more <= base {
				t.Fatalf("count %d with the part, %d without", more, base)
			}
		})
	}
}

func TestCountBadBody(t *testing.T) {
	var c Counter
	if _, err := c.Count(wire.Anthropic, Claude, []byte(`{"messages":`)); err == nil {
		t.Fatal("a truncated body counted without error")
	}
}

func BenchmarkCount(b *testing.B) {
	raw, err := os.ReadFile("testdata/openai_chat_tools.json")
	if err != nil {
		b.Fatal(err)
	}
	body := fastjson.MustParseBytes(raw).Get("body").MarshalTo(nil)
	var c Counter
	if _, err := c.Count(wire.OpenAIChat, OpenAI, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Count(wire.OpenAIChat, OpenAI, body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCountOddShapes checks that fields of unexpected types (the proxy
// checks only what routing needs) count as nothing instead of panicking,
// and that tools without parameters still count.
func TestCountOddShapes(t *testing.T) {
	bodies := []string{
		`{}`,
		`{"messages":{"role":"user"},"tools":"x","system":7}`,
		`{"messages":[1,"a",null,{"content":[1,{"type":"image","source":7}]}]}`,
		`{"input":[{"type":"function_call","arguments":{}},{"content":[{"type":"input_image"}]}],"tools":[{"type":"function"},{"type":"web_search"}]}`,
		`{"contents":[{"parts":[{"inlineData":{"data":"!!!notbase64"}},{"functionCall":{"args":[1,2]}}]}],"tools":[{"functionDeclarations":[{}]}]}`,
		`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"now"}}]}`,
	}
	var c Counter
	for _, p := range []wire.Protocol{wire.OpenAIChat, wire.OpenAIResponses, wire.Anthropic, wire.Gemini} {
		for _, f := range []Family{OpenAI, Claude, Gemini} {
			for _, b := range bodies {
				if n, err := c.Count(p, f, []byte(b)); err != nil || n < 0 {
					t.Errorf("%v/%d %s: %d, %v", p, f, b, n, err)
				}
			}
		}
	}
	without, _ := c.Count(wire.OpenAIChat, OpenAI, []byte(bodies[5][:len(bodies[5])-len(`,"tools":[{"type":"function","function":{"name":"now"}}]}`)]+"}"))
	with, _ := c.Count(wire.OpenAIChat, OpenAI, []byte(bodies[5]))
	if with <= without {
		t.Fatalf("a tool without parameters added nothing: %d vs %d", with, without)
	}
}

// TestCountConcurrentFirstUse checks that goroutines racing to the first
// count share one vocabulary load and agree (run with -race).
func TestCountConcurrentFirstUse(t *testing.T) {
	var c Counter
	body := []byte(`{"messages":[{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}`)
	const n = 8
	got := make(chan int, n)
	for range n {
		go func() {
			k, err := c.Count(wire.Anthropic, OpenAI, body)
			if err != nil {
				t.Error(err)
			}
			got <- k
		}()
	}
	first := <-got
	for range n - 1 {
		if k := <-got; k != first {
			t.Fatalf("counts differ: %d and %d", first, k)
		}
	}
}
