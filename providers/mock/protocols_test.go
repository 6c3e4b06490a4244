package mock

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

var (
	anthropicHdr = map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"}
	geminiHdr    = map[string]string{"x-goog-api-key": "k"}
)

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestServerProtocols drives every protocol's endpoints of the standalone
// mock over loopback: text and tool-call answers, whole and streamed, the
// checks of the real APIs' required headers, injected statuses in each
// protocol's error shape, truncation, token counts and model lists.
func TestServerProtocols(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	s, base := startServer(t, ServerOptions{
		Behaviour: Behaviour{Tokens: 4},
		Models:    []string{"a"},
		OnRequest: func(path string, body []byte) {
			mu.Lock()
			seen[path+" "+string(body)]++
			mu.Unlock()
		},
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	const (
		respText  = `{"model":"m","input":"hi"}`
		respTools = `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"weather in Paris?"}]}],"tools":[{"type":"function","name":"get_weather","parameters":{}}]`
		respAfter = `{"model":"m","input":[{"role":"user","content":"weather?"},{"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"sunny"}],"tools":[{"type":"function","name":"get_weather"}]}`
		antText   = `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]`
		antTools  = `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"weather?"}]}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]`
		antAfter  = `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"}]}],"tools":[{"name":"get_weather","input_schema":{}}]}`
		gemText   = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
		gemTools  = `{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather"}]}]}`
		gemAfter  = `{"contents":[{"role":"user","parts":[{"text":"weather?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"r":"sunny"}}}]}],"tools":[{"functionDeclarations":[{"name":"get_weather"}]}]}`
		chatTools = `{"model":"m","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]`
	)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    map[string]string
		status int
		ctype  string
		want   []string
		not    []string
	}{
		{name: "responses/text", path: "/v1/responses", body: respText, status: 200, ctype: "application/json",
			want: []string{`"object":"response"`, `"status":"completed"`, `"text":"` + Text(4) + `"`, `"output_tokens":4`}},
		{name: "responses/tools", path: "/v1/responses", body: respTools + "}", status: 200,
			want: []string{`"type":"function_call"`, `"call_id":"call_mock_weather"`, `"name":"get_time"`, `"arguments":"{\"tz\":\"CET\"}"`}, not: []string{Word(0)}},
		{name: "responses/tools/stream", path: "/v1/responses", body: respTools + `,"stream":true}`, status: 200, ctype: "text/event-stream",
			want: []string{"event: response.function_call_arguments.delta", `"delta":"{\"cit"`, "event: response.completed"}},
		{name: "responses/after-result", path: "/v1/responses", body: respAfter, status: 200, want: []string{Text(4)}, not: []string{`"function_call"`}},
		{name: "responses/tools/never", path: "/v1/responses", body: respTools + "}", hdr: map[string]string{HeaderTools: "never"}, status: 200, want: []string{Text(4)}},
		{name: "responses/status", path: "/v1/responses", body: respText, hdr: map[string]string{HeaderStatus: "429"}, status: 429,
			want: []string{`"type":"rate_limit_error"`, `"code":"rate_limit_exceeded"`}},

		{name: "anthropic/no-key", path: "/v1/messages", body: antText + "}", hdr: map[string]string{"anthropic-version": "2023-06-01"}, status: 401,
			want: []string{`"type":"error"`, `"type":"authentication_error"`}},
		{name: "anthropic/no-version", path: "/v1/messages", body: antText + "}", hdr: map[string]string{"x-api-key": "k"}, status: 400,
			want: []string{`"type":"invalid_request_error"`, "anthropic-version"}},
		{name: "anthropic/text", path: "/v1/messages", body: antText + "}", hdr: anthropicHdr, status: 200,
			want: []string{`"type":"message"`, `"text":"` + Text(4) + `"`, `"stop_reason":"end_turn"`, `"output_tokens":4`}},
		{name: "anthropic/stream", path: "/v1/messages", body: antText + `,"stream":true}`, hdr: with(anthropicHdr, HeaderDelay, "1ms"), status: 200, ctype: "text/event-stream",
			want: []string{"event: message_start", `"text_delta","text":"` + Word(3) + `"`, `"stop_reason":"end_turn"`, "event: message_stop"}},
		{name: "anthropic/tools", path: "/v1/messages", body: antTools + "}", hdr: anthropicHdr, status: 200,
			want: []string{`"type":"tool_use","id":"call_mock_weather","name":"get_weather","input":{"city":"Paris"}`, `"stop_reason":"tool_use"`}},
		{name: "anthropic/tools/stream", path: "/v1/messages", body: antTools + `,"stream":true}`, hdr: anthropicHdr, status: 200,
			want: []string{`"partial_json":"aris\""`, `"stop_reason":"tool_use"`, "event: message_stop"}},
		{name: "anthropic/tools/always", path: "/v1/messages", body: antText + "}", hdr: with(anthropicHdr, HeaderTools, "always"), status: 200,
			want: []string{`"stop_reason":"tool_use"`}},
		{name: "anthropic/after-result", path: "/v1/messages", body: antAfter, hdr: anthropicHdr, status: 200, want: []string{Text(4), `"end_turn"`}},
		{name: "anthropic/max-tokens", path: "/v1/messages", body: antText + `,"stream":true}`, hdr: with(anthropicHdr, HeaderFinish, "length"), status: 200,
			want: []string{`"stop_reason":"max_tokens"`, "event: message_stop"}},
		{name: "anthropic/overloaded", path: "/v1/messages", body: antText + "}", hdr: with(anthropicHdr, HeaderStatus, "529"), status: 529,
			want: []string{`{"type":"error","error":{"type":"overloaded_error"`}},
		{name: "anthropic/truncate", path: "/v1/messages", body: antText + `,"stream":true}`, hdr: with(anthropicHdr, HeaderTruncate, "2"), status: 200,
			want: []string{Word(1)}, not: []string{Word(2), "message_stop", "message_delta"}},
		{name: "anthropic/malformed", path: "/v1/messages", body: "{", hdr: anthropicHdr, status: 400, want: []string{`"invalid_request_error"`}},
		{name: "anthropic/count", path: "/v1/messages/count_tokens", body: antText + "}", hdr: anthropicHdr, status: 200, want: []string{`{"input_tokens":`}},
		{name: "anthropic/count/no-key", path: "/v1/messages/count_tokens", body: antText + "}", status: 401, want: []string{`"authentication_error"`}},
		{name: "anthropic/models", method: "GET", path: "/v1/models", hdr: anthropicHdr, status: 200, want: []string{`"type":"model","id":"a"`, `"has_more":false`}},

		{name: "gemini/no-key", path: "/v1beta/models/g:generateContent", body: gemText, status: 403, want: []string{`"status":"PERMISSION_DENIED"`}},
		{name: "gemini/text", path: "/v1beta/models/g:generateContent", body: gemText, hdr: geminiHdr, status: 200,
			want: []string{`"text":"` + Text(4) + `"`, `"finishReason":"STOP"`, `"candidatesTokenCount":4`}},
		{name: "gemini/text/key-param", path: "/v1/models/g:generateContent?key=k", body: gemText, status: 200, want: []string{Text(4)}},
		{name: "gemini/stream/sse", path: "/v1beta/models/g:streamGenerateContent?alt=sse", body: gemText, hdr: geminiHdr, status: 200, ctype: "text/event-stream",
			want: []string{`data: {"candidates":[{"content":{"role":"model","parts":[{"text":"` + Word(1) + `"}]}`, `"finishReason":"STOP"`}},
		{name: "gemini/stream/array", path: "/v1beta/models/g:streamGenerateContent", body: gemText, hdr: geminiHdr, status: 200, ctype: "application/json",
			want: []string{`[{"candidates"`, `"finishReason":"STOP"`}, not: []string{"data: "}},
		{name: "gemini/tools", path: "/v1beta/models/g:generateContent", body: gemTools, hdr: geminiHdr, status: 200,
			want: []string{`"functionCall":{"id":"call_mock_weather","name":"get_weather","args":{"city":"Paris"}}`, `"name":"get_time"`}},
		{name: "gemini/tools/stream", path: "/v1beta/models/g:streamGenerateContent?alt=sse", body: gemTools, hdr: geminiHdr, status: 200,
			want: []string{`"args":{"tz":"CET"}`, `"finishReason":"STOP"`}},
		{name: "gemini/after-result", path: "/v1beta/models/g:generateContent", body: gemAfter, hdr: geminiHdr, status: 200, want: []string{Text(4)}, not: []string{"functionCall"}},
		{name: "gemini/status", path: "/v1beta/models/g:generateContent", body: gemText, hdr: with(geminiHdr, HeaderStatus, "503"), status: 503,
			want: []string{`"code":503`, `"status":"UNAVAILABLE"`}},
		{name: "gemini/max-tokens", path: "/v1beta/models/g:generateContent", body: gemText, hdr: with(geminiHdr, HeaderFinish, "length"), status: 200,
			want: []string{`"finishReason":"MAX_TOKENS"`}},
		{name: "gemini/status-529", path: "/v1beta/models/g:streamGenerateContent?alt=sse", body: gemText, hdr: with(geminiHdr, HeaderStatus, "529"), status: 529,
			want: []string{`{"error":{"code":529,"message":"mock upstream injected status 529","status":"UNAVAILABLE"}}`}},
		{name: "gemini/truncate", path: "/v1beta/models/g:streamGenerateContent?alt=sse", body: gemText, hdr: with(geminiHdr, HeaderTruncate, "1"), status: 200,
			want: []string{Word(0)}, not: []string{Word(1), "finishReason"}},
		{name: "gemini/count", path: "/v1beta/models/g:countTokens", body: gemText, hdr: geminiHdr, status: 200, want: []string{`{"totalTokens":`}},
		{name: "gemini/unknown-method", path: "/v1beta/models/g:embed", body: gemText, hdr: geminiHdr, status: 404, want: []string{`"NOT_FOUND"`}},
		{name: "gemini/models", method: "GET", path: "/v1beta/models", hdr: geminiHdr, status: 200, want: []string{`"name":"models/a"`}},

		{name: "chat/status", path: "/v1/chat/completions", body: chatTools + "}", hdr: map[string]string{HeaderStatus: "429"}, status: 429,
			want: []string{`"type":"rate_limit_error"`, `"code":"rate_limit_exceeded"`}},
		{name: "chat/length", path: "/v1/chat/completions", body: chatTools + `,"stream":true}`, hdr: map[string]string{HeaderTools: "never", HeaderFinish: "length"}, status: 200,
			want: []string{`"finish_reason":"length"`, "data: [DONE]"}},
		{name: "chat/tools", path: "/v1/chat/completions", body: chatTools + "}", status: 200,
			want: []string{`"finish_reason":"tool_calls"`, `"id":"call_mock_time"`, `"arguments":"{\"city\":\"Paris\"}"`}},
		{name: "chat/tools/stream", path: "/v1/chat/completions", body: chatTools + `,"stream":true}`, status: 200,
			want: []string{`"arguments":"y\":\"P"`, `"finish_reason":"tool_calls"`, "data: [DONE]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, base+tc.path, strings.NewReader(tc.body))
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Fatalf("body lacks %q: %s", w, b)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(string(b), w) {
					t.Fatalf("body has %q: %s", w, b)
				}
			}
			if resp.Header.Get("Content-Type") == "application/json" {
				if err := fastjson.ValidateBytes(b); err != nil {
					t.Fatalf("body is not JSON: %v: %s", err, b)
				}
			}
			if method == http.MethodPost {
				mu.Lock()
				n := seen[strings.SplitN(tc.path, "?", 2)[0]+" "+tc.body]
				mu.Unlock()
				if n == 0 {
					t.Fatalf("OnRequest did not see %s", tc.path)
				}
			}
		})
	}
	if s.Requests() == 0 {
		t.Fatal("no generation request counted")
	}
}

// TestToolAnswer checks the tool-call answer's events: the calls' ids and
// names arrive first, their arguments in several fragments that join up to
// the whole arguments, and the answer finishes with tool_calls; the
// non-stream body carries the same calls.
func TestToolAnswer(t *testing.T) {
	a := Answer{Model: "m", Tokens: 99, ToolCalls: true, IncludeUsage: true, PromptTokens: 1}
	var p fastjson.Parser
	args := map[int]string{}
	ids := map[int]string{}
	frags := map[int]int{}
	finish := ""
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
		v, err := p.Parse(data)
		if err != nil {
			t.Fatalf("event %d: %v: %s", n, err, data)
		}
		if f := v.GetStringBytes("choices", "0", "finish_reason"); len(f) > 0 {
			finish = string(f)
		}
		for _, tc := range v.GetArray("choices", "0", "delta", "tool_calls") {
			i := tc.GetInt("index")
			if id := tc.GetStringBytes("id"); len(id) > 0 {
				ids[i] = string(id) + "/" + string(tc.GetStringBytes("function", "name"))
			}
			if a := tc.GetStringBytes("function", "arguments"); len(a) > 0 {
				args[i] += string(a)
				frags[i]++
			}
		}
		if u := v.Get("usage"); u != nil && u.GetInt("completion_tokens") != a.OutputTokens() {
			t.Fatalf("usage %s, want %d completion tokens", u, a.OutputTokens())
		}
	}
	if n != a.Events() || finish != "tool_calls" {
		t.Fatalf("%d events (Events() %d), finish %q", n, a.Events(), finish)
	}
	for i, c := range ToolCalls() {
		if ids[i] != c.ID+"/"+c.Name || args[i] != c.Arguments || frags[i] < 2 {
			t.Fatalf("call %d: %q %q in %d fragments; want %+v", i, ids[i], args[i], frags[i], c)
		}
	}
	v, err := fastjson.ParseBytes(a.AppendCompletion(nil))
	if err != nil {
		t.Fatal(err)
	}
	calls := v.GetArray("choices", "0", "message", "tool_calls")
	if len(calls) != 2 || string(calls[1].GetStringBytes("function", "arguments")) != Tool(1).Arguments ||
		string(v.GetStringBytes("choices", "0", "finish_reason")) != "tool_calls" || v.Get("choices", "0", "message", "content").Type() != fastjson.TypeNull {
		t.Fatalf("completion %s", v)
	}
}
