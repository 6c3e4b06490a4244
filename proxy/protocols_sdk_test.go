package proxy

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/wire"
)

// TestProtocolMatrix drives each official SDK (OpenAI Chat, OpenAI
// Responses, Anthropic, Gemini) through the proxy to each upstream type
// (openai, openai-responses, claude, gemini on the standalone mock over
// loopback, and the in-process mock), and checks what the SDK assembles:
// the text, the finish reason in its own vocabulary, usage, two parallel
// tool calls and the conversation after their results, an image turn as
// the upstream received it, upstream errors as the SDK's typed API error
// with the right status, and a truncated upstream stream as a stream error.
func TestProtocolMatrix(t *testing.T) {
	base, rec := matrixFixture(t)
	clients := []matrixClient{
		newChatClient(t, base),
		newResponsesClient(t, base),
		newAnthropicClient(t, base),
		newGenAIClient(t, base),
	}
	for _, c := range clients {
		for _, up := range matrixUpstreams {
			t.Run(c.name+"/"+up.name, func(t *testing.T) { runPair(t, c, up, rec) })
		}
	}
}

// toolTokens is the output token count of the mock's tool-call answer.
func toolTokens() int64 {
	a := mock.Answer{ToolCalls: true}
	return int64(a.OutputTokens())
}

func runPair(t *testing.T, c matrixClient, up upstreamCase, rec *recorder) {
	askModel := func(t *testing.T, q query, model string) (turn, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.model = model
		return c.ask(t, ctx, q)
	}
	ask := func(t *testing.T, q query) (turn, error) {
		t.Helper()
		return askModel(t, q, up.model)
	}
	checkText := func(t *testing.T, got turn, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		if got.text != mock.Text(matrixTokens) || len(got.calls) != 0 {
			t.Fatalf("text %q and %d calls, want %q", got.text, len(got.calls), mock.Text(matrixTokens))
		}
		if got.finish != c.textFinish {
			t.Fatalf("finish %q, want %q", got.finish, c.textFinish)
		}
		if got.in <= 0 || got.out != matrixTokens {
			t.Fatalf("usage in %d out %d, want input > 0 and %d output tokens", got.in, got.out, matrixTokens)
		}
	}
	for _, stream := range []bool{false, true} {
		mode := "whole"
		if stream {
			mode = "stream"
		}
		t.Run("text/"+mode, func(t *testing.T) {
			got, err := ask(t, query{stream: stream, prompt: "Say something deterministic."})
			checkText(t, got, err)
		})
		t.Run("tools/"+mode, func(t *testing.T) {
			marker := "tools:" + c.name + "/" + up.name + "/" + mode
			first, err := ask(t, query{stream: stream, tools: true, prompt: "What is the weather in Paris and the time there? " + marker})
			if err != nil {
				t.Fatalf("tool turn: %v", err)
			}
			want := wantCalls(t)
			if !reflect.DeepEqual(callsOf(first.calls), callsOf(want)) {
				t.Fatalf("calls %+v, want %+v", first.calls, want)
			}
			for i, call := range first.calls {
				if call.id == "" {
					t.Fatalf("call %d has no id", i)
				}
				if call.id != want[i].id {
					t.Errorf("call %d id %q, want the upstream's %q", i, call.id, want[i].id)
				}
			}
			if first.finish != c.toolFinish || first.text != "" {
				t.Fatalf("finish %q text %q, want finish %q and no text", first.finish, first.text, c.toolFinish)
			}
			if first.in <= 0 || first.out != toolTokens() {
				t.Fatalf("usage in %d out %d, want input > 0 and %d output tokens", first.in, first.out, toolTokens())
			}
			second, err := ask(t, query{stream: stream, tools: true, prompt: "What is the weather in Paris and the time there? " + marker, results: first.calls})
			checkText(t, second, err)
			if up.recorded {
				r, ok := rec.find(marker)
				if !ok || !strings.Contains(r.body, "sunny for get_time") || !strings.Contains(r.body, "sunny for get_weather") {
					t.Fatalf("the tool results did not reach the upstream: %q", r.body)
				}
			}
		})
	}
	t.Run("text/stream-delayed", func(t *testing.T) {
		// A generating upstream: each event flushed on its own at the mock.
		got, err := ask(t, query{stream: true, prompt: "Say something slowly.", hdr: map[string]string{mock.HeaderDelay: "1ms"}})
		checkText(t, got, err)
	})
	t.Run("image", func(t *testing.T) {
		marker := "image:" + c.name + "/" + up.name
		got, err := ask(t, query{image: true, prompt: "Describe this image. " + marker})
		checkText(t, got, err)
		if !up.recorded {
			return
		}
		r, ok := rec.find(marker)
		if !ok {
			t.Fatal("the upstream never saw the image turn")
		}
		if img := upstreamImage(up.proto, r.body); img != testImageDataURL() {
			t.Fatalf("upstream (%s) got image %q, want %q in its own format; body %s", up.proto, img, testImageDataURL(), r.body)
		}
	})
	for _, tc := range []struct {
		status int
		stream bool
	}{{429, false}, {529, true}, {503, false}} {
		t.Run("status-"+strconv.Itoa(tc.status), func(t *testing.T) {
			_, err := askModel(t, query{stream: tc.stream, prompt: "hi", hdr: map[string]string{mock.HeaderStatus: strconv.Itoa(tc.status)}},
				up.model+errorSuffix(tc.status))
			if err == nil {
				t.Fatal("no error")
			}
			want := tc.status
			if up.proto != c.proto {
				// Across protocols the status is the error class's: 529 is 503.
				want = wire.KindForStatus(tc.status).Status()
			}
			if got := c.status(err); got != want {
				t.Fatalf("error %v (%T): status %d, want the SDK's API error with %d", err, err, got, want)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		_, err := ask(t, query{stream: true, prompt: "hi", hdr: map[string]string{mock.HeaderTruncate: "3"}})
		if err == nil {
			t.Fatal("a stream cut after 3 chunks ended without an error")
		}
		if !c.streamFailed(err) || !strings.Contains(err.Error(), "upstream stream ended") {
			t.Fatalf("error %v (%T): want the SDK's in-stream error naming the truncation", err, err)
		}
	})
	for _, reason := range []string{"length", "content_filter"} {
		for _, stream := range []bool{false, true} {
			t.Run("finish-"+reason+"/"+strconv.FormatBool(stream), func(t *testing.T) {
				got, err := ask(t, query{stream: stream, prompt: "hi", hdr: map[string]string{mock.HeaderFinish: reason}})
				if err != nil {
					t.Fatal(err)
				}
				if got.finish != c.finishes[reason] || got.text != mock.Text(matrixTokens) {
					t.Fatalf("finish %q text %q, want %q and the whole text", got.finish, got.text, c.finishes[reason])
				}
			})
		}
	}
	if c.count != nil {
		t.Run("count-tokens", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n, err := c.count(ctx, up.model, "How many tokens is this?")
			if err != nil || n <= 0 {
				t.Fatalf("count %d: %v", n, err)
			}
		})
	}
}

// callsOf drops the ids, which are checked on their own.
func callsOf(calls []toolCall) []toolCall {
	out := make([]toolCall, len(calls))
	for i, c := range calls {
		out[i] = toolCall{name: c.name, args: c.args}
	}
	return out
}
