package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/llmproxy/proxy/providers/wire"
	"google.golang.org/genai"
)

func newAnthropicClient(t *testing.T, base string) matrixClient {
	c := anthropic.NewClient(aoption.WithBaseURL(base+"/"), aoption.WithAPIKey(testKey),
		aoption.WithHTTPClient(httpClient(t)), aoption.WithMaxRetries(0))
	schema := anthropic.ToolInputSchemaParam{Properties: weatherSchema["properties"]}
	tools := []anthropic.ToolUnionParam{
		anthropic.ToolUnionParamOfTool(schema, "get_weather"),
		anthropic.ToolUnionParamOfTool(schema, "get_time"),
	}
	return matrixClient{
		name: "anthropic", proto: wire.Anthropic, textFinish: "end_turn", toolFinish: "tool_use",
		finishes: map[string]string{"length": "max_tokens", "content_filter": "refusal"},
		streamFailed: func(err error) bool {
			var e *anthropic.Error
			return errors.As(err, &e)
		},
		count: func(ctx context.Context, model, prompt string) (int64, error) {
			res, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: anthropic.Model(model),
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))}})
			if err != nil {
				return 0, err
			}
			return res.InputTokens, nil
		},
		status: func(err error) int {
			var e *anthropic.Error
			if errors.As(err, &e) {
				return e.StatusCode
			}
			return -1
		},
		ask: func(t *testing.T, ctx context.Context, q query) (turn, error) {
			blocks := []anthropic.ContentBlockParamUnion{anthropic.NewTextBlock(q.prompt)}
			if q.image {
				blocks = append(blocks, anthropic.NewImageBlockBase64("image/png", testImageB64()))
			}
			p := anthropic.MessageNewParams{Model: anthropic.Model(q.model), MaxTokens: 256,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(blocks...)}}
			if q.tools {
				p.Tools = tools
			}
			if len(q.results) > 0 {
				var uses, results []anthropic.ContentBlockParamUnion
				for _, r := range q.results {
					uses = append(uses, anthropic.NewToolUseBlock(r.id, r.args, r.name))
					results = append(results, anthropic.NewToolResultBlock(r.id, toolOutput(r), false))
				}
				p.Messages = append(p.Messages, anthropic.NewAssistantMessage(uses...), anthropic.NewUserMessage(results...))
			}
			var opts []aoption.RequestOption
			for k, v := range q.hdr {
				opts = append(opts, aoption.WithHeader(k, v))
			}
			var msg anthropic.Message
			if !q.stream {
				res, err := c.Messages.New(ctx, p, opts...)
				if err != nil {
					return turn{}, err
				}
				msg = *res
			} else {
				s := c.Messages.NewStreaming(ctx, p, opts...)
				for s.Next() {
					if err := msg.Accumulate(s.Current()); err != nil {
						t.Fatalf("accumulate: %v", err)
					}
				}
				_ = s.Close()
				if err := s.Err(); err != nil {
					return turn{}, err
				}
			}
			out := turn{finish: string(msg.StopReason), in: msg.Usage.InputTokens, out: msg.Usage.OutputTokens}
			for _, b := range msg.Content {
				switch b.Type {
				case "text":
					out.text += b.Text
				case "tool_use":
					var args map[string]any
					if err := json.Unmarshal(b.Input, &args); err != nil {
						t.Fatalf("tool_use input %s: %v", b.Input, err)
					}
					out.calls = append(out.calls, toolCall{id: b.ID, name: b.Name, args: args})
				}
			}
			return out, nil
		},
	}
}

// headerTransport adds per-request headers: genai takes extra headers
// only per client or per call config.
type headerTransport struct {
	base http.RoundTripper
}

type hdrKey struct{}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if hdr, ok := r.Context().Value(hdrKey{}).(map[string]string); ok {
		r = r.Clone(r.Context())
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
	}
	return h.base.RoundTrip(r)
}

func newGenAIClient(t *testing.T, base string) matrixClient {
	hc := httpClient(t)
	hc.Transport = headerTransport{base: hc.Transport}
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: testKey, Backend: genai.BackendGeminiAPI, HTTPClient: hc,
		HTTPOptions: genai.HTTPOptions{BaseURL: base + "/"},
	})
	if err != nil {
		t.Fatalf("genai.NewClient: %v", err)
	}
	decl := func(name string) *genai.FunctionDeclaration {
		return &genai.FunctionDeclaration{Name: name, ParametersJsonSchema: weatherSchema}
	}
	tools := []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{decl("get_weather"), decl("get_time")}}}
	return matrixClient{
		name: "gemini", proto: wire.Gemini, textFinish: string(genai.FinishReasonStop), toolFinish: string(genai.FinishReasonStop),
		finishes: map[string]string{"length": string(genai.FinishReasonMaxTokens), "content_filter": string(genai.FinishReasonSafety)},
		streamFailed: func(err error) bool {
			var e genai.APIError
			return errors.As(err, &e)
		},
		count: func(ctx context.Context, model, prompt string) (int64, error) {
			res, err := c.Models.CountTokens(ctx, model, []*genai.Content{genai.NewContentFromText(prompt, genai.RoleUser)}, nil)
			if err != nil {
				return 0, err
			}
			return int64(res.TotalTokens), nil
		},
		status: func(err error) int {
			var e genai.APIError
			if errors.As(err, &e) {
				return e.Code
			}
			return -1
		},
		ask: func(t *testing.T, ctx context.Context, q query) (turn, error) {
			parts := []*genai.Part{genai.NewPartFromText(q.prompt)}
			if q.image {
				parts = append(parts, genai.NewPartFromBytes(testImage, "image/png"))
			}
			contents := []*genai.Content{genai.NewContentFromParts(parts, genai.RoleUser)}
			if len(q.results) > 0 {
				var calls, results []*genai.Part
				for _, r := range q.results {
					call := genai.NewPartFromFunctionCall(r.name, r.args)
					call.FunctionCall.ID = r.id
					calls = append(calls, call)
					res := genai.NewPartFromFunctionResponse(r.name, map[string]any{"output": toolOutput(r)})
					res.FunctionResponse.ID = r.id
					results = append(results, res)
				}
				contents = append(contents, genai.NewContentFromParts(calls, genai.RoleModel), genai.NewContentFromParts(results, genai.RoleUser))
			}
			cfg := &genai.GenerateContentConfig{}
			if q.tools {
				cfg.Tools = tools
			}
			ctx = context.WithValue(ctx, hdrKey{}, q.hdr)
			var out turn
			add := func(r *genai.GenerateContentResponse) {
				if len(r.Candidates) == 0 {
					t.Fatalf("answer without candidates: %+v", r)
				}
				cand := r.Candidates[0]
				if cand.Content != nil {
					for _, p := range cand.Content.Parts {
						if p.Text != "" {
							out.text += p.Text
						}
						if fc := p.FunctionCall; fc != nil {
							out.calls = append(out.calls, toolCall{id: fc.ID, name: fc.Name, args: fc.Args})
						}
					}
				}
				if cand.FinishReason != "" {
					out.finish = string(cand.FinishReason)
				}
				if u := r.UsageMetadata; u != nil {
					out.in, out.out = int64(u.PromptTokenCount), int64(u.CandidatesTokenCount)
				}
			}
			if !q.stream {
				res, err := c.Models.GenerateContent(ctx, q.model, contents, cfg)
				if err != nil {
					return turn{}, err
				}
				add(res)
				return out, nil
			}
			for res, err := range c.Models.GenerateContentStream(ctx, q.model, contents, cfg) {
				if err != nil {
					return turn{}, err
				}
				add(res)
			}
			return out, nil
		},
	}
}
