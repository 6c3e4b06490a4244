package usage

import (
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

func TestExtract(t *testing.T) {
	tests := []struct {
		name string
		p    wire.Protocol
		doc  string
		want Counts
		ok   bool
	}{
		{"chat answer", wire.OpenAIChat, `{"choices":[{"message":{"content":"the usage is"}}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}`, Counts{Input: 9, Output: 12}, true},
		{"chat chunk without usage", wire.OpenAIChat, `{"choices":[{"delta":{"content":"x"}}],"usage":null}`, Counts{}, false},
		{"chat usage chunk", wire.OpenAIChat, `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}`, Counts{Input: 3, Output: 4, Cached: 1}, true},
		{"anthropic message", wire.Anthropic, `{"type":"message","usage":{"input_tokens":5,"cache_read_input_tokens":2,"output_tokens":7}}`, Counts{Input: 7, Output: 7, Cached: 2}, true},
		{"anthropic delta", wire.Anthropic, `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}`, Counts{Output: 15}, true},
		{"gemini", wire.Gemini, `{"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"thoughtsTokenCount":2}}`, Counts{Input: 4, Output: 8, Reasoning: 2}, true},
		{"responses", wire.OpenAIResponses, `{"type":"response.completed","response":{"output":[],"usage":{"input_tokens":10,"output_tokens":20}}}`, Counts{Input: 10, Output: 20}, true},
		{"text mentions usage", wire.OpenAIChat, `{"content":"\"usage\": high"}`, Counts{}, false},
		{"truncated", wire.OpenAIChat, `{"usage":{"prompt_tokens":1`, Counts{}, false},
	}
	var p fastjson.Parser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Extract(tt.p, []byte(tt.doc), &p)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTrackerAnthropicSplit(t *testing.T) {
	tr := Tracker{Proto: wire.Anthropic}
	tr.Observe([]byte(`{"type":"message_start","message":{"usage":{"input_tokens":11,"output_tokens":1}}}`))
	tr.Observe([]byte(`{"type":"content_block_delta","delta":{"text":"hi"}}`))
	tr.Observe([]byte(`{"type":"message_delta","usage":{"output_tokens":30}}`))
	if !tr.Seen || tr.Counts != (Counts{Input: 11, Output: 30}) {
		t.Fatalf("got %+v", tr.Counts)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"usage":{"prompt_tokens":1,"completion_tokens":2}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var p fastjson.Parser
		for _, proto := range []wire.Protocol{wire.OpenAIChat, wire.Anthropic, wire.Gemini, wire.OpenAIResponses} {
			Extract(proto, doc, &p)
		}
	})
}
