package convert

import (
	"encoding/json"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
)

// TestErrorEventsAgreeAcrossPaths: a client is told a stream broke with
// the same event whether its stream was passed through or converted (the
// Responses shape had drifted: a bare {"error":…} on pass-through).
func TestErrorEventsAgreeAcrossPaths(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			conv := NewStream(wire.OpenAIChat, p, "m", FramingSSE)
			converted := conv.Fail(nil, wire.Timeout, "upstream went silent")
			w := stream.PassThrough(p)
			passed := w.Fail(nil, wire.Timeout, "upstream went silent")
			evs := parseSSE(passed)
			if len(evs) != 1 {
				t.Fatalf("pass-through error %q is not one event", passed)
			}
			if string(converted) != string(passed) {
				t.Errorf("converted %q\npass-through %q", converted, passed)
			}
			if p == wire.OpenAIResponses {
				var e map[string]any
				if err := json.Unmarshal(evs[0].data, &e); err != nil || e["type"] != "error" || e["code"] != "timeout" {
					t.Errorf("Responses error event %s, want type error with code timeout", evs[0].data)
				}
			}
		})
	}
}

// TestPassThroughErrorTakesNextSequenceNumber: the Responses error event
// the proxy adds after upstream events continues their numbering.
func TestPassThroughErrorTakesNextSequenceNumber(t *testing.T) {
	w := stream.PassThrough(wire.OpenAIResponses)
	for i := range 3 {
		ev := stream.Event{Name: []byte("response.output_text.delta"), Data: []byte(`{"type":"response.output_text.delta","sequence_number":` + string(rune('0'+i)) + `}`)}
		if _, err := w.Event(nil, &ev); err != nil {
			t.Fatal(err)
		}
	}
	out, err := w.End(nil)
	if err == nil {
		t.Fatal("a stream without its terminator ended cleanly")
	}
	var e struct {
		Type string `json:"type"`
		Seq  int    `json:"sequence_number"`
	}
	if err := json.Unmarshal(parseSSE(out)[0].data, &e); err != nil || e.Type != "error" || e.Seq != 3 {
		t.Errorf("error event %q, want type error, sequence_number 3", out)
	}
}
