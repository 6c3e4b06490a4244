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

// geminiBody is the REST body of generateContent, typed with the SDK's own
// structs so unknown or misspelt fields are caught.
type geminiBody struct {
	SystemInstruction *genai.Content          `json:"systemInstruction"`
	Contents          []*genai.Content        `json:"contents"`
	Tools             []*genai.Tool           `json:"tools"`
	ToolConfig        *genai.ToolConfig       `json:"toolConfig"`
	GenerationConfig  *genai.GenerationConfig `json:"generationConfig"`
}

// TestSDKReadsRequests decodes every converted fixture request with the
// target SDK's request type and checks the conversation survived: the turn
// structure, both tool calls and both results, paired by id.
func TestSDKReadsRequests(t *testing.T) {
	for _, from := range protocols {
		for _, to := range protocols {
			if from == to {
				continue
			}
			t.Run(pairName(from, to), func(t *testing.T) {
				out, err := Request(from, to, readFixture(t, from.String()+"_request.json"), "up", true)
				if err != nil {
					t.Fatal(err)
				}
				var calls, results []string // ids (or names for Gemini)
				switch to {
				case wire.OpenAIChat:
					var p openai.ChatCompletionNewParams
					if err := json.Unmarshal(out, &p); err != nil {
						t.Fatal(err)
					}
					for _, m := range p.Messages {
						if m.OfAssistant != nil {
							for _, tc := range m.OfAssistant.ToolCalls {
								calls = append(calls, tc.OfFunction.ID)
							}
						}
						if m.OfTool != nil {
							results = append(results, m.OfTool.ToolCallID)
						}
					}
					if len(p.Messages) != 6 || p.Messages[0].OfSystem == nil {
						t.Fatalf("want system + 5 turns, got %d messages", len(p.Messages))
					}
				case wire.Anthropic:
					var p anthropic.MessageNewParams
					if err := json.Unmarshal(out, &p); err != nil {
						t.Fatal(err)
					}
					for _, m := range p.Messages {
						for _, b := range m.Content {
							if b.OfToolUse != nil {
								calls = append(calls, b.OfToolUse.ID)
							}
							if b.OfToolResult != nil {
								results = append(results, b.OfToolResult.ToolUseID)
							}
						}
					}
					if len(p.Messages) != 3 || len(p.System) == 0 || p.MaxTokens == 0 {
						t.Fatalf("want 3 alternating turns, a system prompt and max_tokens: %s", out)
					}
				case wire.OpenAIResponses:
					var p responses.ResponseNewParams
					if err := json.Unmarshal(out, &p); err != nil {
						t.Fatal(err)
					}
					for _, it := range p.Input.OfInputItemList {
						if it.OfFunctionCall != nil {
							calls = append(calls, it.OfFunctionCall.CallID)
						}
						if it.OfFunctionCallOutput != nil {
							results = append(results, it.OfFunctionCallOutput.CallID.Value)
						}
					}
					if !p.Store.Valid() || p.Store.Value {
						t.Fatal("store:false missing")
					}
				case wire.Gemini:
					body := bytes.ReplaceAll(out, []byte(skipSignature), []byte("c2tpcA=="))
					dec := json.NewDecoder(bytes.NewReader(body))
					dec.DisallowUnknownFields()
					var g geminiBody
					if err := dec.Decode(&g); err != nil {
						t.Fatalf("%v\n%s", err, out)
					}
					for _, c := range g.Contents {
						for _, p := range c.Parts {
							if p.FunctionCall != nil {
								calls = append(calls, p.FunctionCall.Name)
							}
							if p.FunctionResponse != nil {
								results = append(results, p.FunctionResponse.Name)
							}
						}
					}
					if len(g.Contents) != 3 || g.Contents[1].Role != "model" || len(g.Contents[2].Parts) != 3 {
						t.Fatalf("want 3 turns with results and text merged: %s", out)
					}
				}
				if len(calls) != 2 || strings.Join(calls, ",") != strings.Join(results, ",") {
					t.Fatalf("calls %v and results %v do not pair up", calls, results)
				}
			})
		}
	}
}
