package convert

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// codexRequest converts the Codex-shaped fixture (namespace, custom and
// hosted tools, additional_tools, replayed namespaced and custom calls) to
// `to`, returning the body and the converter's tool map.
func codexRequest(t *testing.T, to wire.Protocol) (map[string]any, *ToolMap) {
	t.Helper()
	var c Converter
	out, err := c.Request(wire.OpenAIResponses, to, readFixture(t, "responses_codex_tools.json"), "up-model", true)
	if err != nil {
		t.Fatalf("Codex request to %s: %v", to, err)
	}
	var body map[string]any
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatalf("%s body is not JSON: %v\n%s", to, err, out)
	}
	return body, c.Tools
}

// toolNamesOf lists the declared tool names of a converted body.
func toolNamesOf(to wire.Protocol, body map[string]any) []string {
	var names []string
	switch to {
	case wire.OpenAIChat:
		for _, t := range body["tools"].([]any) {
			names = append(names, t.(map[string]any)["function"].(map[string]any)["name"].(string))
		}
	case wire.Anthropic:
		for _, t := range body["tools"].([]any) {
			names = append(names, t.(map[string]any)["name"].(string))
		}
	case wire.Gemini:
		for _, g := range body["tools"].([]any) {
			for _, d := range g.(map[string]any)["functionDeclarations"].([]any) {
				names = append(names, d.(map[string]any)["name"].(string))
			}
		}
	}
	return names
}

func TestCodexToolsCarriedToEveryProtocol(t *testing.T) {
	want := []string{"shell", "apply_patch", "collab__send_message", "mcp__docs__search"}
	for _, to := range []wire.Protocol{wire.OpenAIChat, wire.Anthropic, wire.Gemini} {
		t.Run(to.String(), func(t *testing.T) {
			body, tm := codexRequest(t, to)
			if got := toolNamesOf(to, body); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("tools = %v, want %v (hosted tools dropped, namespaces flattened)", got, want)
			}
			if tm == nil || strings.Join(tm.Dropped, ",") != "web_search,image_generation" {
				t.Errorf("dropped = %+v, want web_search,image_generation", tm)
			}
			raw, _ := json.Marshal(body)
			for _, frag := range []string{
				"collab__send_message",      // the replayed namespaced call
				"*** Begin Patch",           // the replayed custom call's text, as its argument
				"lark grammar",              // the grammar survives as description
				"Fix the typo in README.md", // user turn
				"delivered", "Done!",        // both tool results
			} {
				if !strings.Contains(string(raw), frag) {
					t.Errorf("converted body lacks %s:\n%s", frag, raw)
				}
			}
			if strings.Contains(string(raw), "web_search") || strings.Contains(string(raw), "encrypted_content") {
				t.Errorf("hosted tool or opaque reasoning leaked into a %s body:\n%s", to, raw)
			}
		})
	}
}

func TestCodexUnknownToolTypeStillRefused(t *testing.T) {
	body := `{"model":"m","input":"hi","tools":[{"type":"teleport","name":"x"}]}`
	_, err := Request(wire.OpenAIResponses, wire.OpenAIChat, []byte(body), "m", false)
	if err == nil || !strings.Contains(err.Error(), `tools[0].type: tool type "teleport" cannot be carried`) {
		t.Fatalf("err = %v, want the unknown tool type named", err)
	}
}

func TestFlatNamesStayUniqueAndShort(t *testing.T) {
	long := strings.Repeat("n", 60)
	body := `{"model":"m","input":"hi","tools":[
		{"type":"function","name":"a__b"},
		{"type":"namespace","name":"a","tools":[{"type":"function","name":"b"}]},
		{"type":"namespace","name":"` + long + `","tools":[{"type":"function","name":"one"},{"type":"function","name":"two"}]}]}`
	var c Converter
	out, err := c.Request(wire.OpenAIResponses, wire.Anthropic, []byte(body), "m", false)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	names := toolNamesOf(wire.Anthropic, got)
	seen := map[string]bool{}
	for _, n := range names {
		if len(n) > maxToolName || seen[n] {
			t.Errorf("name %q repeated or longer than %d: %v", n, maxToolName, names)
		}
		seen[n] = true
	}
	if len(names) != 4 {
		t.Fatalf("names = %v", names)
	}
	for _, n := range names[1:] {
		a := c.Tools.byFlat(n)
		if a == nil || a.namespace == "" {
			t.Errorf("flat name %q does not map back to its namespace", n)
		}
	}
}

// chatToolAnswer is a Chat completion calling the three renamed tools.
const chatToolAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
{"id":"c1","type":"function","function":{"name":"collab__send_message","arguments":"{\"target\":\"lead\",\"message\":\"hi\"}"}},
{"id":"c2","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}},
{"id":"c3","type":"function","function":{"name":"shell","arguments":"{\"command\":[\"ls\"]}"}}]},"finish_reason":"tool_calls"}],
"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`

func TestCodexCallsGoBackUnderClientNames(t *testing.T) {
	_, tm := codexRequest(t, wire.OpenAIChat)
	var c Converter
	out, err := c.ResponseMapped(wire.OpenAIChat, wire.OpenAIResponses, []byte(chatToolAnswer), "gpt-5.1-codex", tm)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Output []map[string]any `json:"output"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(resp.Output) != 3 {
		t.Fatalf("output = %s", out)
	}
	checkItem(t, resp.Output[0], map[string]any{"type": "function_call", "namespace": "collab", "name": "send_message", "call_id": "c1"})
	checkItem(t, resp.Output[1], map[string]any{"type": "custom_tool_call", "name": "apply_patch", "call_id": "c2", "input": "*** Begin Patch\n*** End Patch"})
	checkItem(t, resp.Output[2], map[string]any{"type": "function_call", "name": "shell", "arguments": `{"command":["ls"]}`})
	if _, ok := resp.Output[2]["namespace"]; ok {
		t.Errorf("a plain function call got a namespace: %v", resp.Output[2])
	}
}

func checkItem(t *testing.T, item map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if item[k] != v {
			t.Errorf("item %v: %s = %v, want %v", item, k, item[k], v)
		}
	}
}

// chatToolStream streams one call of the custom tool, its JSON arguments
// in fragments that split an escape.
const chatToolStream = `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c2","type":"function","function":{"name":"apply_patch","arguments":""}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"input\":\"*** Begin Patch\\"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"n*** End Patch\"}"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c1","type":"function","function":{"name":"mcp__docs__search","arguments":"{\"q\":\"typo\"}"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]

`

func TestCodexStreamedCallsGoBackUnderClientNames(t *testing.T) {
	_, tm := codexRequest(t, wire.OpenAIChat)
	s := NewStream(wire.OpenAIChat, wire.OpenAIResponses, "gpt-5.1-codex", FramingSSE)
	s.MapTools(tm)
	var out []byte
	for _, ev := range parseSSE([]byte(chatToolStream)) {
		var err error
		if out, err = s.Event(out, ev.name, ev.data); err != nil {
			t.Fatalf("Event: %v", err)
		}
	}
	out, err := s.End(out)
	if err != nil {
		t.Fatal(err)
	}
	var done []map[string]any
	var inputDone string
	for _, ev := range checkStreamOutput(t, out) {
		var e map[string]any
		if err := json.Unmarshal(ev.data, &e); err != nil {
			t.Fatal(err)
		}
		switch e["type"] {
		case "response.output_item.done":
			done = append(done, e["item"].(map[string]any))
		case "response.custom_tool_call_input.done":
			inputDone = e["input"].(string)
		case "response.function_call_arguments.delta":
			if strings.Contains(string(ev.data), "Begin Patch") {
				t.Errorf("a custom tool's JSON wrapper went out as function arguments: %s", ev.data)
			}
		}
	}
	if len(done) != 2 {
		t.Fatalf("items done = %v\n%s", done, out)
	}
	checkItem(t, done[0], map[string]any{"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch"})
	checkItem(t, done[1], map[string]any{"type": "function_call", "namespace": "mcp__docs__", "name": "search", "arguments": `{"q":"typo"}`})
	if inputDone != "*** Begin Patch\n*** End Patch" {
		t.Errorf("custom_tool_call_input.done input = %q", inputDone)
	}
}
