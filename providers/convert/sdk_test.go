//go:build !nosdk

package convert

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"
)

// These tests read our converted output with the official SDKs' own types
// and stream accumulators, the way real clients do, and check that the
// meaning survived: text, tool calls (name and arguments) and finish.

type outcome struct {
	text   string
	calls  []string // name + compact arguments
	finish string   // "stop", "tools" or "length"
}

func call(t testing.TB, name string, args []byte) string {
	t.Helper()
	if len(args) == 0 {
		args = []byte("{}")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, args); err != nil {
		t.Fatalf("tool arguments %q: %v", args, err)
	}
	return name + buf.String()
}

var wantOutcome = map[string]outcome{
	"tools":        {text: "Checking both cities.", calls: []string{`get_weather{"city":"Paris"}`, `get_weather{"city":"Rome"}`}, finish: "tools"},
	"stream_text":  {text: "Rome is \"warmer\"\nat 21C.", finish: "stop"},
	"nostream_txt": {text: "Rome is warmer at 21C."},
}

func sameOutcome(t *testing.T, got, want outcome) {
	t.Helper()
	if got.text != want.text || strings.Join(got.calls, "|") != strings.Join(want.calls, "|") || (want.finish != "" && got.finish != want.finish) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func chatFinish(s string) string {
	switch s {
	case "tool_calls", "tool_use", "STOP+calls", "completed+calls":
		return "tools"
	case "stop", "end_turn", "STOP", "completed", "stop_sequence":
		return "stop"
	}
	return "length"
}

func sdkStream(t *testing.T, to wire.Protocol, out []byte) outcome {
	t.Helper()
	var o outcome
	evs := parseSSE(out)
	switch to {
	case wire.OpenAIChat:
		var acc openai.ChatCompletionAccumulator
		for _, ev := range evs {
			if string(ev.data) == "[DONE]" {
				continue
			}
			var c openai.ChatCompletionChunk
			if err := json.Unmarshal(ev.data, &c); err != nil {
				t.Fatal(err)
			}
			if !acc.AddChunk(c) {
				t.Fatalf("accumulator rejected chunk %s", ev.data)
			}
		}
		m := acc.Choices[0].Message
		o.text = m.Content
		for _, tc := range m.ToolCalls {
			o.calls = append(o.calls, call(t, tc.Function.Name, []byte(tc.Function.Arguments)))
		}
		o.finish = chatFinish(acc.Choices[0].FinishReason)
	case wire.Anthropic:
		var m anthropic.Message
		for _, ev := range evs {
			var e anthropic.MessageStreamEventUnion
			if err := json.Unmarshal(ev.data, &e); err != nil {
				t.Fatal(err)
			}
			if string(ev.name) != e.Type {
				t.Fatalf("event name %q carries type %q", ev.name, e.Type)
			}
			if err := m.Accumulate(e); err != nil {
				t.Fatalf("Accumulate(%s): %v", ev.data, err)
			}
		}
		for _, b := range m.Content {
			switch b.Type {
			case "text":
				o.text += b.Text
			case "tool_use":
				o.calls = append(o.calls, call(t, b.Name, b.Input))
			}
		}
		o.finish = chatFinish(string(m.StopReason))
	case wire.OpenAIResponses:
		seq := int64(-1)
		var deltas string
		for _, ev := range evs {
			var e responses.ResponseStreamEventUnion
			if err := json.Unmarshal(ev.data, &e); err != nil {
				t.Fatal(err)
			}
			if e.SequenceNumber != seq+1 || string(ev.name) != e.Type {
				t.Fatalf("event %s: sequence %d after %d, name %q", e.Type, e.SequenceNumber, seq, ev.name)
			}
			seq = e.SequenceNumber
			switch e.Type {
			case "response.output_text.delta":
				deltas += e.Delta
			case "response.completed", "response.incomplete":
				r := e.Response
				o.text = r.OutputText()
				for _, it := range r.Output {
					if it.Type == "function_call" {
						o.calls = append(o.calls, call(t, it.Name, []byte(it.Arguments.OfString)))
					}
				}
				o.finish = chatFinish(string(r.Status))
				if len(o.calls) > 0 && o.finish == "stop" {
					o.finish = "tools"
				}
			}
		}
		if deltas != o.text {
			t.Fatalf("deltas %q differ from the final text %q", deltas, o.text)
		}
	case wire.Gemini:
		for _, ev := range evs {
			var r genai.GenerateContentResponse
			if err := json.Unmarshal(ev.data, &r); err != nil {
				t.Fatal(err)
			}
			o.addGemini(t, &r)
		}
	}
	return o
}

func (o *outcome) addGemini(t testing.TB, r *genai.GenerateContentResponse) {
	if len(r.Candidates) == 0 {
		return
	}
	c := r.Candidates[0]
	if c.Content != nil {
		for _, p := range c.Content.Parts {
			if p.FunctionCall != nil {
				args, _ := json.Marshal(p.FunctionCall.Args)
				o.calls = append(o.calls, call(t, p.FunctionCall.Name, args))
			} else if !p.Thought {
				o.text += p.Text
			}
		}
	}
	if c.FinishReason != "" {
		o.finish = chatFinish(string(c.FinishReason))
		if o.finish == "stop" && len(o.calls) > 0 {
			o.finish = "tools"
		}
	}
}

func TestSDKReadsStreams(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			for _, name := range []string{"tools", "text"} {
				t.Run(pairName(from, to)+"_"+name, func(t *testing.T) {
					out := runStream(t, from, to, FramingSSE, readFixture(t, from.String()+"_stream_"+name+".sse"))
					want := wantOutcome["tools"]
					if name == "text" {
						want = wantOutcome["stream_text"]
					}
					sameOutcome(t, sdkStream(t, to, out), want)
				})
			}
		}
	}
}

func TestSDKReadsGeminiArray(t *testing.T) {
	out := runStream(t, wire.Anthropic, wire.Gemini, FramingJSONArray, readFixture(t, "anthropic_stream_tools.sse"))
	var rs []*genai.GenerateContentResponse
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatal(err)
	}
	var o outcome
	for _, r := range rs {
		o.addGemini(t, r)
	}
	sameOutcome(t, o, wantOutcome["tools"])
}

func TestSDKReadsResponses(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			for _, name := range []string{"tools", "text"} {
				t.Run(pairName(from, to)+"_"+name, func(t *testing.T) {
					out, err := Response(from, to, readFixture(t, from.String()+"_response_"+name+".json"), "client-model")
					if err != nil {
						t.Fatal(err)
					}
					var o outcome
					switch to {
					case wire.OpenAIChat:
						var c openai.ChatCompletion
						if err := json.Unmarshal(out, &c); err != nil {
							t.Fatal(err)
						}
						o.text = c.Choices[0].Message.Content
						for _, tc := range c.Choices[0].Message.ToolCalls {
							o.calls = append(o.calls, call(t, tc.Function.Name, []byte(tc.Function.Arguments)))
						}
					case wire.Anthropic:
						var m anthropic.Message
						if err := json.Unmarshal(out, &m); err != nil {
							t.Fatal(err)
						}
						for _, b := range m.Content {
							switch b.Type {
							case "text":
								o.text += b.Text
							case "tool_use":
								o.calls = append(o.calls, call(t, b.Name, b.Input))
							}
						}
					case wire.OpenAIResponses:
						var r responses.Response
						if err := json.Unmarshal(out, &r); err != nil {
							t.Fatal(err)
						}
						o.text = r.OutputText()
						for _, it := range r.Output {
							if it.Type == "function_call" {
								o.calls = append(o.calls, call(t, it.Name, []byte(it.Arguments.OfString)))
							}
						}
					case wire.Gemini:
						var r genai.GenerateContentResponse
						if err := json.Unmarshal(out, &r); err != nil {
							t.Fatal(err)
						}
						o.addGemini(t, &r)
						o.finish = ""
					}
					want := wantOutcome["tools"]
					if name == "text" {
						want = wantOutcome["nostream_txt"]
					}
					want.finish = ""
					sameOutcome(t, o, want)
				})
			}
		}
	}
}

// TestStreamChatRepeatedToolID covers OpenAI-compatible servers that repeat
// the call id (and name) on every argument fragment.
func TestStreamChatRepeatedToolID(t *testing.T) {
	s := NewStream(wire.OpenAIChat, wire.Anthropic, "m", FramingSSE)
	var out []byte
	for _, d := range []string{
		`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{\"a\""}}]}}]}`,
		`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":":1}"}}]}}]}`,
		`{"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`[DONE]`,
	} {
		var err error
		if out, err = s.Event(out, nil, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	out, _ = s.End(out)
	if n := strings.Count(string(out), `"type":"tool_use"`); n != 1 {
		t.Fatalf("%d tool_use blocks, want 1:\n%s", n, out)
	}
	o := sdkStream(t, wire.Anthropic, out)
	if len(o.calls) != 1 || o.calls[0] != `f{"a":1}` {
		t.Fatalf("calls %v", o.calls)
	}
}
