package mock

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/valyala/fastjson"
)

// TestScriptServer drives the scripted answers through every protocol of
// the standalone mock over loopback: a marker calls a declared tool with
// the marker's arguments, a tool result after it is quoted back, a
// structured-output request gets a value of its schema, and requests
// without either keep the ordinary answers.
func TestScriptServer(t *testing.T) {
	_, base := startServer(t, ServerOptions{Behaviour: Behaviour{Tokens: 4}})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	const (
		mk = `<<mock-call read_file {\"path\":\"/w/n.txt\"}>>`
		// Chat, Responses, Anthropic and Gemini: call, result, undeclared.
		chatCall   = `{"model":"m","messages":[{"role":"user","content":"read it ` + mk + `"}],"tools":[{"type":"function","function":{"name":"read_file"}}]}`
		chatResult = `{"model":"m","messages":[{"role":"user","content":"read it ` + mk + `"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"read_file","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"nonce-1"}],"tools":[{"type":"function","function":{"name":"read_file"}}]}`
		chatNone   = `{"model":"m","messages":[{"role":"user","content":"read it ` + mk + `"}],"tools":[{"type":"function","function":{"name":"other"}}]}`
		chatSchema = `{"model":"m","messages":[{"role":"user","content":"rate it"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"score":{"type":"integer","minimum":3},"why":{"type":"string"},"skip":{"type":"boolean"}},"required":["score","why"]}}}}`
		respCall   = `{"model":"m","input":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"input_text","text":"read it ` + mk + `"}]}],"tools":[{"type":"namespace","name":"fs","tools":[{"type":"function","name":"fs__read_file"}]}]}`
		respResult = `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"read it ` + mk + `"}]},{"type":"function_call","call_id":"c","name":"read_file","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"nonce-2"}]}],"tools":[{"type":"function","name":"read_file"}]}`
		respCustom = `{"model":"m","input":[{"type":"additional_tools","tools":[{"type":"namespace","name":"functions","tools":[{"type":"custom","name":"exec"}]}]},{"role":"user","content":[{"type":"input_text","text":"<<mock-call exec {\"input\":\"text(1)\"}>>"}]}]`
		respSchema = `{"model":"m","input":"rate it","text":{"format":{"type":"json_schema","name":"r","schema":{"type":"object","properties":{"level":{"enum":["low","high"]}}}}}}`
		antCall    = `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"read it ` + mk + `"}]},{"role":"system","content":"note"}],"tools":[{"name":"read_file","input_schema":{"type":"object"}}]}`
		antResult  = `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"read it ` + mk + `"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"read_file","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"nonce-3"}]},{"type":"text","text":"reminder"}]}],"tools":[{"name":"read_file","input_schema":{}}]}`
		antAfter   = `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"}]}],"tools":[{"name":"get_weather","input_schema":{}}]}`
		gemCall    = `{"contents":[{"role":"user","parts":[{"text":"read it ` + mk + `"}]}],"tools":[{"functionDeclarations":[{"name":"read_file"}]}]}`
		gemResult  = `{"contents":[{"role":"user","parts":[{"text":"read it ` + mk + `"}]},{"role":"model","parts":[{"functionCall":{"name":"read_file","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"read_file","response":{"output":"nonce-4"}}}]}],"tools":[{"functionDeclarations":[{"name":"read_file"}]}]}`
		gemSchema  = `{"contents":[{"role":"user","parts":[{"text":"route ` + mk + `"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"OBJECT","properties":{"complexity_reasoning":{"type":"STRING"},"complexity_score":{"type":"INTEGER"}},"required":["complexity_reasoning","complexity_score"]}}}`
	)
	args := `{\"path\":\"/w/n.txt\"}`
	for _, tc := range []struct {
		name, path, body string
		hdr              map[string]string
		want, not        []string
	}{
		{name: "chat/call", path: "/v1/chat/completions", body: chatCall,
			want: []string{`"tool_calls":[{"id":"call_mock_script","type":"function","function":{"name":"read_file","arguments":"` + args + `"}}]`, `"finish_reason":"tool_calls"`}},
		{name: "chat/call/stream", path: "/v1/chat/completions", body: strings.Replace(chatCall, `"model":"m"`, `"model":"m","stream":true`, 1),
			want: []string{`"name":"read_file","arguments":"` + args + `"`, `"finish_reason":"tool_calls"`, "data: [DONE]"}},
		{name: "chat/result", path: "/v1/chat/completions", body: chatResult, want: []string{`"content":"mock tool result: nonce-1"`, `"finish_reason":"stop"`}},
		{name: "chat/undeclared", path: "/v1/chat/completions", body: chatNone, want: []string{Text(4)}, not: []string{"tool_calls"}},
		{name: "chat/schema", path: "/v1/chat/completions", body: chatSchema, want: []string{`"content":"{\"score\":3,\"why\":\"mock\"}"`}},

		{name: "responses/call/namespace", path: "/v1/responses", body: respCall,
			want: []string{`"type":"function_call"`, `"name":"fs__read_file"`, `"arguments":"` + args + `"`}},
		{name: "responses/result", path: "/v1/responses", body: respResult, want: []string{`"text":"mock tool result: nonce-2"`}},
		{name: "responses/custom", path: "/v1/responses", body: respCustom + "}",
			want: []string{`"type":"custom_tool_call","status":"completed","call_id":"call_mock_script","name":"exec","input":"text(1)"`, `"status":"completed"`}},
		{name: "responses/custom/stream", path: "/v1/responses", body: respCustom + `,"stream":true}`,
			want: []string{"event: response.output_item.added", "event: response.custom_tool_call_input.delta", `"delta":"text(1)"`,
				"event: response.custom_tool_call_input.done", "event: response.completed"}},
		{name: "responses/schema", path: "/v1/responses", body: respSchema, want: []string{`"text":"{\"level\":\"low\"}"`}},

		{name: "anthropic/call", path: "/v1/messages", body: antCall, hdr: anthropicHdr,
			want: []string{`"type":"tool_use","id":"call_mock_script","name":"read_file","input":{"path":"/w/n.txt"}`, `"stop_reason":"tool_use"`}},
		{name: "anthropic/result", path: "/v1/messages", body: antResult, hdr: anthropicHdr, want: []string{`"text":"mock tool result: nonce-3"`}},
		{name: "anthropic/result-without-marker", path: "/v1/messages", body: antAfter, hdr: anthropicHdr, want: []string{Text(4)}, not: []string{"mock tool result"}},

		{name: "gemini/call", path: "/v1beta/models/g:generateContent", body: gemCall, hdr: geminiHdr,
			want: []string{`"functionCall":{"id":"call_mock_script","name":"read_file","args":{"path":"/w/n.txt"}}`}},
		{name: "gemini/call/stream", path: "/v1beta/models/g:streamGenerateContent?alt=sse", body: gemCall, hdr: geminiHdr,
			want: []string{`"name":"read_file","args":{"path":"/w/n.txt"}`}},
		{name: "gemini/result", path: "/v1beta/models/g:generateContent", body: gemResult, hdr: geminiHdr,
			want: []string{`"text":"mock tool result: {\"output\":\"nonce-4\"}"`}},
		{name: "gemini/schema", path: "/v1beta/models/g:generateContent", body: gemSchema, hdr: geminiHdr,
			want: []string{`"text":"{\"complexity_reasoning\":\"mock\",\"complexity_score\":1}"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(tc.body))
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("no %s in\n%s", w, b)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(b), n) {
					t.Errorf("unexpected %s in\n%s", n, b)
				}
			}
		})
	}
}

// TestScriptProvider: the in-process mock, which reads OpenAI Chat,
// follows the same script.
func TestScriptProvider(t *testing.T) {
	p := NewProvider("mock", []string{"m"}, Behaviour{Tokens: 3})
	for _, tc := range []struct {
		name, body, want string
	}{
		{"call", `{"model":"m","messages":[{"role":"user","content":"` + callMarkerJSON("Read", `{"file_path":"/a"}`) + `"}],"tools":[{"type":"function","function":{"name":"Read"}}]}`,
			`"function":{"name":"Read","arguments":"{\"file_path\":\"/a\"}"}`},
		{"result", `{"model":"m","messages":[{"role":"user","content":"` + callMarkerJSON("Read", `{}`) + `"},{"role":"system","content":"x"},{"role":"tool","tool_call_id":"c","content":"abc"}]}`,
			`"content":"mock tool result: abc"`},
		{"bad-args", `{"model":"m","messages":[{"role":"user","content":"` + callMarkerJSON("Read", `[1]`) + `"}],"tools":[{"type":"function","function":{"name":"Read"}}]}`,
			`are not a JSON object`},
		{"plain", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `"content":"` + Text(3) + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.Do(&providers.Call{Body: []byte(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			if !strings.Contains(string(res.Body), tc.want) {
				t.Fatalf("no %s in %s", tc.want, res.Body)
			}
		})
	}
}

// callMarkerJSON is CallMarker escaped for a JSON string.
func callMarkerJSON(name, args string) string {
	return strings.ReplaceAll(CallMarker(name, args), `"`, `\"`)
}

// TestScriptEvents: a scripted answer's events are role, one content
// chunk, finish, usage, [DONE], as Events counts them, and each is JSON.
func TestScriptEvents(t *testing.T) {
	for _, s := range []*Script{{Text: "hi"}, {Call: &ToolCall{ID: "c", Name: "n", Arguments: "{}"}}} {
		a := Answer{Model: "m", IncludeUsage: true, PromptTokens: 2, Script: s}
		var p fastjson.Parser
		n := 0
		for ; ; n++ {
			ev, ok := a.AppendEvent(nil, n)
			if !ok {
				break
			}
			data := strings.TrimSuffix(strings.TrimPrefix(string(ev), "data: "), "\n\n")
			if data == "[DONE]" {
				continue
			}
			if _, err := p.Parse(data); err != nil {
				t.Fatalf("event %d: %v: %s", n, err, data)
			}
		}
		if n != a.Events() || n != 5 {
			t.Fatalf("%d events, Events() %d", n, a.Events())
		}
	}
}

// TestSchemaInstance covers the schema forms the structured-output answer
// reads.
func TestSchemaInstance(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}}}`, `{"a":"mock","b":1}`},
		{`{"type":"OBJECT","properties":{"a":{"type":"STRING"},"b":{"type":"ARRAY"}},"required":["b"]}`, `{"b":[]}`},
		{`{"anyOf":[{"type":"null"},{"type":"string"}]}`, `null`},
		{`{"type":["integer","null"],"minimum":5}`, `5`},
		{`{"const":"x"}`, `"x"`},
		{`{"type":"object","properties":{"n":{"type":"object","properties":{"m":{"type":"boolean"}}}}}`, `{"n":{"m":false}}`},
	} {
		v := fastjson.MustParse(tc.schema)
		if got := string(appendInstance(nil, v, 0)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.schema, got, tc.want)
		}
	}
	deep := strings.Repeat(`{"type":"object","properties":{"a":`, 40) + `{"type":"string"}` + strings.Repeat("}}", 40)
	got := appendInstance(nil, fastjson.MustParse(deep), 0)
	if _, err := fastjson.ParseBytes(got); err != nil {
		t.Fatalf("deep schema: %v: %s", err, got)
	}
}
