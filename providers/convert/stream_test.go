package convert

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// truncate drops the upstream terminator from a fixture.
func truncated(t *testing.T, p wire.Protocol) []byte {
	evs := parseSSE(readFixture(t, p.String()+"_stream_text.sse"))
	var b []byte
	for _, ev := range evs[:len(evs)-1] {
		if p == wire.Gemini && strings.Contains(string(ev.data), "finishReason") {
			break
		}
		if len(ev.name) > 0 {
			b = append(append(append(b, "event: "...), ev.name...), '\n')
		}
		b = append(append(append(b, "data: "...), ev.data...), "\n\n"...)
	}
	return b
}

func TestStreamTruncated(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			t.Run(pairName(from, to), func(t *testing.T) {
				s := NewStream(from, to, "m", FramingSSE)
				var out []byte
				for _, ev := range parseSSE(truncated(t, from)) {
					var err error
					if out, err = s.Event(out, ev.name, ev.data); err != nil {
						t.Fatal(err)
					}
				}
				if s.Done() {
					t.Fatal("Done before the terminator")
				}
				out, err := s.End(out)
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("End error = %v, want ErrTruncated", err)
				}
				evs := checkStreamOutput(t, out)
				last := string(evs[len(evs)-1].data)
				if !strings.Contains(last, `"error"`) {
					t.Fatalf("last event is not an error: %s", last)
				}
				for _, bad := range []string{"[DONE]", "message_stop", "response.completed", "finishReason"} {
					if strings.Contains(string(out), bad) {
						t.Fatalf("truncated stream got a terminator %q:\n%s", bad, out)
					}
				}
			})
		}
	}
}

func TestStreamUpstreamError(t *testing.T) {
	errEvents := map[wire.Protocol]sseEvent{
		wire.OpenAIChat:      {data: []byte(`{"error":{"message":"boom","type":"server_error","code":null}}`)},
		wire.OpenAIResponses: {name: []byte("error"), data: []byte(`{"type":"error","sequence_number":3,"code":"rate_limit_exceeded","message":"boom","param":null}`)},
		wire.Anthropic:       {name: []byte("error"), data: []byte(`{"type":"error","error":{"type":"overloaded_error","message":"boom"}}`)},
		wire.Gemini:          {data: []byte(`{"error":{"code":503,"message":"boom","status":"UNAVAILABLE"}}`)},
	}
	wantKind := map[wire.Protocol]string{wire.OpenAIChat: "", wire.OpenAIResponses: "rate_limit", wire.Anthropic: "overloaded", wire.Gemini: "UNAVAILABLE"}
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			t.Run(pairName(from, to), func(t *testing.T) {
				s := NewStream(from, to, "m", FramingSSE)
				first := parseSSE(readFixture(t, from.String()+"_stream_text.sse"))[0]
				out, err := s.Event(nil, first.name, first.data)
				if err != nil {
					t.Fatal(err)
				}
				ev := errEvents[from]
				if out, err = s.Event(out, ev.name, ev.data); err != nil {
					t.Fatal(err)
				}
				if !s.Done() || !s.Failed() {
					t.Fatal("error event did not finish the stream")
				}
				n := len(out)
				out, _ = s.Event(out, first.name, first.data)
				out, err = s.End(out)
				if err != nil || len(out) != n {
					t.Fatalf("output after the error: %q (err %v)", out[n:], err)
				}
				evs := checkStreamOutput(t, out)
				last := string(evs[len(evs)-1].data)
				if !strings.Contains(last, "boom") {
					t.Fatalf("error message lost: %s", last)
				}
				_ = wantKind
			})
		}
	}
}

func TestStreamGeminiArrayFail(t *testing.T) {
	s := NewStream(wire.Anthropic, wire.Gemini, "m", FramingJSONArray)
	var out []byte
	for _, ev := range parseSSE(readFixture(t, "anthropic_stream_text.sse"))[:7] {
		out, _ = s.Event(out, ev.name, ev.data)
	}
	out = s.Fail(out, wire.Timeout, "upstream went silent")
	var arr []map[string]any
	if err := json.Unmarshal(out, &arr); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if _, ok := arr[len(arr)-1]["error"]; !ok {
		t.Fatalf("last element is not an error: %s", out)
	}
	// A stream that failed before any chunk is still a valid array.
	out = NewStream(wire.Anthropic, wire.Gemini, "m", FramingJSONArray).Fail(nil, wire.BadGateway, "x")
	if err := json.Unmarshal(out, &arr); err != nil || len(arr) != 1 {
		t.Fatalf("empty failed stream: %s", out)
	}
}

func TestStreamOmitUsageChunk(t *testing.T) {
	s := NewStream(wire.Anthropic, wire.OpenAIChat, "m", FramingSSE)
	s.OmitUsageChunk()
	var out []byte
	for _, ev := range parseSSE(readFixture(t, "anthropic_stream_text.sse")) {
		out, _ = s.Event(out, ev.name, ev.data)
	}
	out, _ = s.End(out)
	if strings.Contains(string(out), `"usage"`) || !strings.HasSuffix(string(out), "data: [DONE]\n\n") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

// TestStreamEventImmediacy checks that each upstream content event yields
// client output at once (no buffering until a later event), except a Gemini
// client's function call, which Gemini can only carry whole.
func TestStreamEventImmediacy(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			t.Run(pairName(from, to), func(t *testing.T) {
				s := NewStream(from, to, "m", FramingSSE)
				var out []byte
				for _, ev := range parseSSE(readFixture(t, from.String()+"_stream_text.sse")) {
					n := len(out)
					out, _ = s.Event(out, ev.name, ev.data)
					isText := strings.Contains(string(ev.data), `"Rome is`)
					if isText && !strings.Contains(string(out[n:]), `Rome is \"warmer\"\n`) {
						t.Fatalf("text delta not forwarded at once; got %q", out[n:])
					}
				}
			})
		}
	}
}

func TestStreamEventAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (make test's allocs target runs this without it)")
	}
	cases := []struct {
		from, to wire.Protocol
		data     string
		name     string
	}{
		{wire.Anthropic, wire.OpenAIChat, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello there"}}`, "content_block_delta"},
		{wire.OpenAIChat, wire.Anthropic, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"g","choices":[{"index":0,"delta":{"content":"hello there"},"finish_reason":null}]}`, ""},
		{wire.Gemini, wire.OpenAIResponses, `{"candidates":[{"content":{"role":"model","parts":[{"text":"hello there"}]},"index":0}],"responseId":"r"}`, ""},
		{wire.OpenAIResponses, wire.Gemini, `{"type":"response.output_text.delta","sequence_number":4,"item_id":"m","output_index":0,"content_index":0,"delta":"hello there"}`, "response.output_text.delta"},
	}
	for _, c := range cases {
		t.Run(pairName(c.from, c.to), func(t *testing.T) {
			s := NewStream(c.from, c.to, "m", FramingSSE)
			buf := make([]byte, 0, 4096)
			data, name := []byte(c.data), []byte(c.name)
			buf, _ = s.Event(buf[:0], name, data) // warm-up: start events
			allocs := testing.AllocsPerRun(200, func() {
				buf, _ = s.Event(buf[:0], name, data)
				s.text = s.text[:0] // Responses keeps the item text; bound it
			})
			if allocs > 0 {
				t.Fatalf("%.1f allocs per event, want 0", allocs)
			}
		})
	}
}

// A tool call whose arguments are not a JSON object cannot reach a Gemini
// client (args is an object there): the converter ends the stream with an
// error, and the closing chunk the terminator brings must not come after
// it in either framing (make fuzz found the array framing closed with "]"
// and then continued: the buffered call is flushed only at [DONE] when the
// upstream sent no finish_reason).
func TestStreamGeminiBadToolArgsEndsStream(t *testing.T) {
	const chunk = `data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":`
	ups := map[string]string{
		// The buffered call is flushed only at [DONE]: no finish_reason.
		"flushed at the terminator": chunk + `{"role":"assistant","content":"Checking"},"finish_reason":null}]}

` + chunk + `{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"[1]"}}]},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}

data: [DONE]

`,
		// Two bad calls in one chunk: the second must not add a second error.
		"two bad calls in one event": chunk + `{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}},{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"[2]"}}]},"finish_reason":"tool_calls"}]}

data: [DONE]

`,
	}
	for name, up := range ups {
		for _, framing := range []Framing{FramingSSE, FramingJSONArray} {
			s := NewStream(wire.OpenAIChat, wire.Gemini, "m", framing)
			var out []byte
			for _, ev := range parseSSE([]byte(up)) {
				out, _ = s.Event(out, ev.name, ev.data)
			}
			out, _ = s.End(out)
			if !s.Failed() {
				t.Fatalf("%s, framing %d: bad arguments did not fail the stream: %s", name, framing, out)
			}
			var last map[string]any
			nErr := 0
			if framing == FramingJSONArray {
				var arr []map[string]any
				if err := json.Unmarshal(out, &arr); err != nil {
					t.Fatalf("%s: array framing is not one JSON array: %v\n%s", name, err, out)
				}
				last = arr[len(arr)-1]
				for _, el := range arr {
					if _, ok := el["error"]; ok {
						nErr++
					}
				}
			} else {
				evs := checkStreamOutput(t, out)
				if err := json.Unmarshal(evs[len(evs)-1].data, &last); err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if isErrorEvent(ev) {
						nErr++
					}
				}
			}
			if _, ok := last["error"]; !ok || nErr != 1 {
				t.Fatalf("%s, framing %d: want one error, last: %d nErr: %s", name, framing, nErr, out)
			}
		}
	}
}
