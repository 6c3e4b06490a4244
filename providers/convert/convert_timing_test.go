package convert

import (
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// Benchmarks per direction. Run:
//   go test -run X -bench . -benchmem ./providers/convert/

func BenchmarkRequest(b *testing.B) {
	for _, from := range protocols {
		body := readFixture(b, from.String()+"_request.json")
		for _, to := range protocols {
			if from == to {
				continue
			}
			b.Run(pairName(from, to), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := Request(from, to, body, "up", true); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConverterRequest is Request through a reused Converter, as a
// server keeping one per worker would call it.
func BenchmarkConverterRequest(b *testing.B) {
	body := readFixture(b, "openai_request.json")
	for _, to := range []wire.Protocol{wire.Anthropic, wire.Gemini} {
		b.Run(pairName(wire.OpenAIChat, to), func(b *testing.B) {
			b.ReportAllocs()
			var c Converter
			for b.Loop() {
				if _, err := c.Request(wire.OpenAIChat, to, body, "up", true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResponse(b *testing.B) {
	for _, from := range protocols {
		body := readFixture(b, from.String()+"_response_tools.json")
		for _, to := range protocols {
			if from == to {
				continue
			}
			b.Run(pairName(from, to), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := Response(from, to, body, "client"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkStreamEvent converts whole fixture streams (text + two parallel
// tool calls) and reports the cost per upstream event, including the
// Stream's setup amortized over the stream.
func BenchmarkStreamEvent(b *testing.B) {
	for _, from := range protocols {
		evs := parseSSE(readFixture(b, from.String()+"_stream_tools.sse"))
		for _, to := range protocols {
			if from == to {
				continue
			}
			b.Run(pairName(from, to), func(b *testing.B) {
				b.ReportAllocs()
				buf := make([]byte, 0, 64<<10)
				n := 0
				for b.Loop() {
					s := NewStream(from, to, "client", FramingSSE)
					buf = buf[:0]
					for _, ev := range evs {
						buf, _ = s.Event(buf, ev.name, ev.data)
					}
					buf, _ = s.End(buf)
					n += len(evs)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
				b.ReportMetric(float64(testing.AllocsPerRun(1, func() {
					s := NewStream(from, to, "client", FramingSSE)
					buf = buf[:0]
					for _, ev := range evs {
						buf, _ = s.Event(buf, ev.name, ev.data)
					}
					buf, _ = s.End(buf)
				}))/float64(len(evs)), "allocs/event")
			})
		}
	}
}

// BenchmarkStreamTextDelta is the steady state: one text delta event on a
// stream that is already open.
func BenchmarkStreamTextDelta(b *testing.B) {
	deltas := map[wire.Protocol]sseEvent{
		wire.OpenAIChat:      {data: []byte(`{"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"both cities."},"logprobs":null,"finish_reason":null}],"usage":null}`)},
		wire.OpenAIResponses: {name: []byte("response.output_text.delta"), data: []byte(`{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"both cities."}`)},
		wire.Anthropic:       {name: []byte("content_block_delta"), data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"both cities."}}`)},
		wire.Gemini:          {data: []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"both cities."}]},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"gem-abc123"}`)},
	}
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			b.Run(pairName(from, to), func(b *testing.B) {
				b.ReportAllocs()
				ev := deltas[from]
				s := NewStream(from, to, "client", FramingSSE)
				buf := make([]byte, 0, 4096)
				buf, _ = s.Event(buf, ev.name, ev.data)
				for b.Loop() {
					buf, _ = s.Event(buf[:0], ev.name, ev.data)
					s.text = s.text[:0]
				}
			})
		}
	}
}
