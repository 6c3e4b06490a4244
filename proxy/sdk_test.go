package proxy

import (
	"context"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"strconv"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAISDK drives the official OpenAI Go SDK through the proxy, to the
// standalone mock upstream over loopback and to the in-process mock, and
// checks that what the SDK assembles is exactly what the upstream sent.
func TestOpenAISDK(t *testing.T) {
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 7}})
	cfg := baseConfig(
		openaiProvider("remote", up, "mock-gpt"),
		mockProvider("local", 9, "local-gpt"),
	)
	// Short heartbeats, so that the delayed cases below get pings between
	// their chunks, which the SDK must skip.
	cfg.Server.StreamHeartbeat = 30 * time.Millisecond
	_, base := startProxy(t, cfg)
	client := openai.NewClient(
		option.WithBaseURL(base+"/v1/"),
		option.WithAPIKey(testKey),
		option.WithHTTPClient(httpClient(t)),
		option.WithMaxRetries(0),
	)

	tests := []struct {
		name   string
		model  string
		tokens int // 0: the provider's configured length
		want   int
		stream bool
		usage  bool
		delay  string // X-Mock-Delay between chunks
	}{
		{name: "remote/whole", model: "mock-gpt", want: 7},
		{name: "remote/whole/header-tokens", model: "mock-gpt", tokens: 33, want: 33},
		{name: "remote/stream", model: "mock-gpt", tokens: 25, want: 25, stream: true},
		{name: "remote/stream/usage", model: "mock-gpt", tokens: 40, want: 40, stream: true, usage: true},
		{name: "remote/stream/long", model: "mock-gpt", tokens: 2000, want: 2000, stream: true, usage: true},
		{name: "remote/stream/heartbeats", model: "mock-gpt", tokens: 4, want: 4, stream: true, usage: true, delay: "80ms"},
		{name: "local/whole", model: "local-gpt", want: 9},
		{name: "local/stream", model: "local-gpt", want: 9, stream: true},
		{name: "local/stream/usage", model: "local-gpt", tokens: 18, want: 18, stream: true, usage: true},
		{name: "local/stream/heartbeats", model: "local-gpt", tokens: 3, want: 3, stream: true, delay: "80ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			params := openai.ChatCompletionNewParams{
				Model:    tc.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say something deterministic.")},
			}
			if tc.usage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			var opts []option.RequestOption
			if tc.tokens > 0 {
				opts = append(opts, option.WithHeader(mock.HeaderTokens, strconv.Itoa(tc.tokens)))
			}
			if tc.delay != "" {
				opts = append(opts, option.WithHeader(mock.HeaderDelay, tc.delay))
			}
			want := mock.Text(tc.want)
			if !tc.stream {
				res, err := client.Chat.Completions.New(ctx, params, opts...)
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if len(res.Choices) != 1 || res.Choices[0].Message.Content != want {
					t.Fatalf("content = %+v, want %q", res.Choices, want)
				}
				if res.Model != tc.model || res.Usage.CompletionTokens != int64(tc.want) {
					t.Fatalf("model %q usage %+v, want model %q and %d completion tokens", res.Model, res.Usage, tc.model, tc.want)
				}
				return
			}
			s := client.Chat.Completions.NewStreaming(ctx, params, opts...)
			var acc openai.ChatCompletionAccumulator
			got, chunks, usageChunks := "", 0, 0
			var usage openai.CompletionUsage
			for s.Next() {
				c := s.Current()
				acc.AddChunk(c)
				chunks++
				for _, ch := range c.Choices {
					got += ch.Delta.Content
				}
				if c.JSON.Usage.Valid() && c.Usage.TotalTokens > 0 {
					usageChunks++
					usage = c.Usage
				}
			}
			if err := s.Err(); err != nil {
				t.Fatalf("stream error after %d chunks: %v", chunks, err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("stream close: %v", err)
			}
			if got != want {
				t.Fatalf("streamed content (%d chunks) = %q, want %q", chunks, got, want)
			}
			if acc.Choices[0].Message.Content != want || acc.Choices[0].FinishReason != "stop" {
				t.Fatalf("accumulated %q finish %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
			}
			// Role chunk, one per token, finish chunk, and the usage chunk when asked.
			wantChunks := tc.want + 2
			if tc.usage {
				wantChunks++
			}
			if chunks != wantChunks {
				t.Fatalf("got %d chunks, want %d", chunks, wantChunks)
			}
			switch {
			case tc.usage && (usageChunks != 1 || usage.CompletionTokens != int64(tc.want) || usage.PromptTokens <= 0):
				t.Fatalf("usage chunks %d, usage %+v; want one with %d completion tokens", usageChunks, usage, tc.want)
			case !tc.usage && usageChunks != 0:
				t.Fatalf("usage sent without stream_options.include_usage: %+v", usage)
			}
		})
	}
}
