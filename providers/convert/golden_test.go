package convert

import (
	"encoding/json"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

func pairName(from, to wire.Protocol) string { return from.String() + "_to_" + to.String() }

func TestGoldenRequests(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			t.Run(pairName(from, to), func(t *testing.T) {
				body := readFixture(t, from.String()+"_request.json")
				out, err := Request(from, to, body, "upstream-model", true)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "request/"+pairName(from, to)+".json", pretty(t, out))
			})
		}
	}
}

func TestGoldenResponses(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			for _, name := range []string{"tools", "text"} {
				t.Run(pairName(from, to)+"_"+name, func(t *testing.T) {
					body := readFixture(t, from.String()+"_response_"+name+".json")
					out, err := Response(from, to, body, "client-model")
					if err != nil {
						t.Fatal(err)
					}
					checkGolden(t, "response/"+pairName(from, to)+"_"+name+".json", pretty(t, out))
				})
			}
		}
	}
}

func TestGoldenStreams(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			for _, name := range []string{"tools", "text"} {
				t.Run(pairName(from, to)+"_"+name, func(t *testing.T) {
					out := runStream(t, from, to, FramingSSE, readFixture(t, from.String()+"_stream_"+name+".sse"))
					checkStreamOutput(t, out)
					checkGolden(t, "stream/"+pairName(from, to)+"_"+name+".sse", normalize(out))
				})
			}
		}
	}
}

// TestGoldenGeminiArray covers the JSON-array framing Gemini clients get
// from streamGenerateContent without alt=sse.
func TestGoldenGeminiArray(t *testing.T) {
	for _, from := range []wire.Protocol{wire.OpenAIChat, wire.OpenAIResponses, wire.Anthropic} {
		t.Run(from.String(), func(t *testing.T) {
			out := runStream(t, from, wire.Gemini, FramingJSONArray, readFixture(t, from.String()+"_stream_tools.sse"))
			var chunks []map[string]any
			if err := json.Unmarshal(out, &chunks); err != nil {
				t.Fatalf("array framing is not a JSON array: %v\n%s", err, out)
			}
			checkGolden(t, "stream/"+pairName(from, wire.Gemini)+"_tools.array.json", pretty(t, out))
		})
	}
}
