package proxy

import (
	"context"
	"errors"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// matrixClient is one official SDK driving the proxy.
type matrixClient struct {
	name  string
	proto wire.Protocol
	// textFinish and toolFinish are the SDK's finish values for a text
	// answer and for a tool-call answer; finishes maps the upstream's other
	// OpenAI finish reasons (length, content_filter) to the SDK's.
	textFinish, toolFinish string
	finishes               map[string]string
	ask                    func(t *testing.T, ctx context.Context, q query) (turn, error)
	// status is the HTTP status of the SDK's typed API error, or -1 when
	// err is not of that type.
	status func(err error) int
	// streamFailed reports whether err is how the SDK reports an error
	// event inside a stream.
	streamFailed func(err error) bool
	// count asks for a token count (nil: the protocol has no such call).
	count func(ctx context.Context, model, prompt string) (int64, error)
}

// streamEventError is an error event that an SDK hands over as an
// ordinary stream event (openai-go does so for Responses "error" events).
type streamEventError struct{ raw string }

func (e *streamEventError) Error() string { return "stream error event: " + e.raw }

func openAIStreamFailed(err error) bool {
	var se *ssestream.StreamError
	var ee *streamEventError
	return errors.As(err, &se) || errors.As(err, &ee)
}

func requestOptions(hdr map[string]string) []option.RequestOption {
	var opts []option.RequestOption
	for k, v := range hdr {
		opts = append(opts, option.WithHeader(k, v))
	}
	return opts
}

func openAIStatus(err error) int {
	var e *openai.Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return -1
}

func newChatClient(t *testing.T, base string) matrixClient {
	c := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(testKey),
		option.WithHTTPClient(httpClient(t)), option.WithMaxRetries(0))
	tools := []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather", Parameters: weatherSchema}),
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_time", Parameters: weatherSchema}),
	}
	return matrixClient{
		name: "openai-chat", proto: wire.OpenAIChat, textFinish: "stop", toolFinish: "tool_calls",
		finishes: map[string]string{"length": "length", "content_filter": "content_filter"},
		status:   openAIStatus, streamFailed: openAIStreamFailed,
		ask: func(t *testing.T, ctx context.Context, q query) (turn, error) {
			user := openai.UserMessage(q.prompt)
			if q.image {
				user = openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart(q.prompt),
					openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: testImageDataURL()}),
				})
			}
			p := openai.ChatCompletionNewParams{Model: q.model, Messages: []openai.ChatCompletionMessageParamUnion{user}}
			if q.tools {
				p.Tools = tools
			}
			if len(q.results) > 0 {
				var calls []openai.ChatCompletionMessageToolCallUnionParam
				for _, r := range q.results {
					calls = append(calls, openai.ChatCompletionMessageToolCallUnionParam{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: r.id, Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: r.name, Arguments: encodeArgs(t, r.args)},
					}})
				}
				p.Messages = append(p.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &openai.ChatCompletionAssistantMessageParam{ToolCalls: calls}})
				for _, r := range q.results {
					p.Messages = append(p.Messages, openai.ToolMessage(toolOutput(r), r.id))
				}
			}
			opts := requestOptions(q.hdr)
			var msg openai.ChatCompletionMessage
			var out turn
			if !q.stream {
				res, err := c.Chat.Completions.New(ctx, p, opts...)
				if err != nil {
					return turn{}, err
				}
				if len(res.Choices) != 1 {
					t.Fatalf("%d choices", len(res.Choices))
				}
				msg, out.finish = res.Choices[0].Message, res.Choices[0].FinishReason
				out.in, out.out = res.Usage.PromptTokens, res.Usage.CompletionTokens
			} else {
				p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
				s := c.Chat.Completions.NewStreaming(ctx, p, opts...)
				var acc openai.ChatCompletionAccumulator
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				_ = s.Close()
				if err := s.Err(); err != nil {
					return turn{}, err
				}
				if len(acc.Choices) != 1 {
					t.Fatalf("%d accumulated choices", len(acc.Choices))
				}
				msg, out.finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
				out.in, out.out = acc.Usage.PromptTokens, acc.Usage.CompletionTokens
			}
			out.text = msg.Content
			for _, tc := range msg.ToolCalls {
				out.calls = append(out.calls, toolCall{id: tc.ID, name: tc.Function.Name, args: decodeArgs(t, tc.Function.Arguments)})
			}
			return out, nil
		},
	}
}

func newResponsesClient(t *testing.T, base string) matrixClient {
	c := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(testKey),
		option.WithHTTPClient(httpClient(t)), option.WithMaxRetries(0))
	tools := []responses.ToolUnionParam{
		responses.ToolParamOfFunction("get_weather", weatherSchema, false),
		responses.ToolParamOfFunction("get_time", weatherSchema, false),
	}
	return matrixClient{
		name: "openai-responses", proto: wire.OpenAIResponses, textFinish: "completed", toolFinish: "completed",
		finishes: map[string]string{"length": "incomplete:max_output_tokens", "content_filter": "incomplete:content_filter"},
		status:   openAIStatus, streamFailed: openAIStreamFailed,
		ask: func(t *testing.T, ctx context.Context, q query) (turn, error) {
			content := responses.ResponseInputMessageContentListParam{{OfInputText: &responses.ResponseInputTextParam{Text: q.prompt}}}
			if q.image {
				content = append(content, responses.ResponseInputContentUnionParam{OfInputImage: &responses.ResponseInputImageParam{
					Detail: responses.ResponseInputImageDetailAuto, ImageURL: openai.String(testImageDataURL()),
				}})
			}
			input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage(content, responses.EasyInputMessageRoleUser)}
			for _, r := range q.results {
				input = append(input, responses.ResponseInputItemParamOfFunctionCall(encodeArgs(t, r.args), r.id, r.name))
			}
			for _, r := range q.results {
				item := responses.ResponseInputItemParamOfFunctionCallOutput(toolOutput(r))
				item.OfFunctionCallOutput.CallID = openai.String(r.id)
				input = append(input, item)
			}
			p := responses.ResponseNewParams{Model: q.model, Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}}
			if q.tools {
				p.Tools = tools
			}
			opts := requestOptions(q.hdr)
			var res *responses.Response
			streamed := ""
			if !q.stream {
				var err error
				if res, err = c.Responses.New(ctx, p, opts...); err != nil {
					return turn{}, err
				}
			} else {
				s := c.Responses.NewStreaming(ctx, p, opts...)
				args := map[string]string{}
				for s.Next() {
					ev := s.Current()
					switch ev.Type {
					case "response.output_text.delta":
						streamed += ev.Delta
					case "response.function_call_arguments.delta":
						args[ev.ItemID] += ev.Delta
					case "response.completed", "response.incomplete":
						r := ev.Response
						res = &r
					case "error", "response.failed":
						// The SDK hands these over as events: the error is the client's to raise.
						_ = s.Close()
						return turn{}, &streamEventError{raw: ev.RawJSON()}
					}
				}
				_ = s.Close()
				if err := s.Err(); err != nil {
					return turn{}, err
				}
				if res == nil {
					t.Fatal("stream ended without a terminal response event")
				}
				for _, it := range res.Output {
					if it.Type == "function_call" && args[it.ID] != it.Arguments.OfString {
						t.Fatalf("argument deltas of %s joined to %q, final item says %q", it.ID, args[it.ID], it.Arguments.OfString)
					}
				}
			}
			out := turn{text: res.OutputText(), finish: string(res.Status), in: res.Usage.InputTokens, out: res.Usage.OutputTokens}
			if res.Status == responses.ResponseStatusIncomplete {
				out.finish += ":" + res.IncompleteDetails.Reason
			}
			if q.stream && streamed != out.text {
				t.Fatalf("text deltas %q, completed response says %q", streamed, out.text)
			}
			for _, it := range res.Output {
				if it.Type == "function_call" {
					out.calls = append(out.calls, toolCall{id: it.CallID, name: it.Name, args: decodeArgs(t, it.Arguments.OfString)})
				}
			}
			return out, nil
		},
	}
}
