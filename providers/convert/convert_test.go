package convert

import (
	"errors"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		name      string
		p         wire.Protocol
		body      string
		model     string
		stream    bool
		wantField string // "" = no error
	}{
		{"chat ok", wire.OpenAIChat, `{"model":"gpt","messages":[],"stream":true}`, "gpt", true, ""},
		{"chat no messages", wire.OpenAIChat, `{"model":"gpt"}`, "", false, "messages"},
		{"chat no model", wire.OpenAIChat, `{"messages":[]}`, "", false, "model"},
		{"chat bad stream", wire.OpenAIChat, `{"model":"gpt","messages":[],"stream":"yes"}`, "", false, "stream"},
		{"responses ok", wire.OpenAIResponses, `{"model":"gpt","input":"hi"}`, "gpt", false, ""},
		{"responses bad input", wire.OpenAIResponses, `{"model":"gpt","input":3}`, "", false, "input"},
		{"anthropic ok", wire.Anthropic, `{"model":"c","messages":[],"max_tokens":10,"stream":false}`, "c", false, ""},
		{"anthropic no max_tokens", wire.Anthropic, `{"model":"c","messages":[]}`, "", false, "max_tokens"},
		{"anthropic bad max_tokens", wire.Anthropic, `{"model":"c","messages":[],"max_tokens":0}`, "", false, "max_tokens"},
		{"gemini ok", wire.Gemini, `{"contents":[]}`, "", false, ""},
		{"gemini no contents", wire.Gemini, `{}`, "", false, "contents"},
		{"chat untyped part", wire.OpenAIChat, `{"model":"g","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"text":"x"}]}]}`, "", false, "messages[1].content[0].type"},
		{"chat bad role", wire.OpenAIChat, `{"model":"g","messages":[{"role":"robot","content":"a"}]}`, "", false, "messages[0].role"},
		{"anthropic system turn", wire.Anthropic, `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"system","content":"b"}]}`, "c", false, ""},
		{"anthropic unknown role", wire.Anthropic, `{"model":"c","max_tokens":5,"messages":[{"role":"tool","content":"a"}]}`, "", false, "messages[0].role"},
		{"gemini parts missing", wire.Gemini, `{"contents":[{"role":"user"}]}`, "", false, "contents[0].parts"},
		{"not json", wire.OpenAIChat, `{"model":`, "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model, stream, err := Inspect(tc.p, []byte(tc.body))
			var fe *FieldError
			if tc.wantField != "" || strings.HasPrefix(tc.name, "not json") {
				if !errors.As(err, &fe) {
					t.Fatalf("want FieldError, got %v", err)
				}
				if fe.Field != tc.wantField {
					t.Fatalf("field = %q, want %q", fe.Field, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if model != tc.model || stream != tc.stream {
				t.Fatalf("got (%q,%v), want (%q,%v)", model, stream, tc.model, tc.stream)
			}
		})
	}
}

func TestRequestRejects(t *testing.T) {
	tests := []struct {
		name      string
		from, to  wire.Protocol
		body      string
		wantField string
	}{
		{"n>1 to anthropic", wire.OpenAIChat, wire.Anthropic, `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}`, "n"},
		{"n>1 to responses", wire.Gemini, wire.OpenAIResponses, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":3}}`, "generationConfig.candidateCount"},
		{"audio part", wire.OpenAIChat, wire.Gemini, `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, "messages[1].content[0].type"},
		{"bad arguments", wire.OpenAIChat, wire.Anthropic, `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{"orphan tool result to gemini", wire.OpenAIChat, wire.Gemini, `{"model":"m","messages":[{"role":"tool","tool_call_id":"x","content":"r"}]}`, "tool_call_id"},
		{"server tool", wire.Anthropic, wire.OpenAIChat, `{"model":"m","max_tokens":5,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "tools[0].type"},
		{"previous_response_id", wire.OpenAIResponses, wire.Anthropic, `{"model":"m","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id"},
		{"gemini code execution", wire.Gemini, wire.OpenAIChat, `{"contents":[],"tools":[{"codeExecution":{}}]}`, "tools[0]"},
		{"anthropic document", wire.Anthropic, wire.Gemini, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`, "messages[0].content[0].type"},
		{"gemini pdf", wire.Gemini, wire.Anthropic, `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"application/pdf","data":"AA=="}}]}]}`, "contents[0].parts[0].inlineData.mimeType"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Request(tc.from, tc.to, []byte(tc.body), "up", false)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want FieldError, got %v", err)
			}
			if fe.Field != tc.wantField {
				t.Fatalf("field = %q (%s), want %q", fe.Field, fe.Message, tc.wantField)
			}
		})
	}
}

func TestRequestDetails(t *testing.T) {
	tests := []struct {
		name     string
		from, to wire.Protocol
		body     string
		want     []string // substrings of the output
		absent   []string
	}{
		{"anthropic default max_tokens and clamp", wire.OpenAIChat, wire.Anthropic,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1.8}`,
			[]string{`"max_tokens":4096`, `"temperature":1`, `"model":"up"`}, []string{`"top_p"`}},
		{"anthropic thinking from effort", wire.OpenAIResponses, wire.Anthropic,
			`{"model":"m","input":"hi","reasoning":{"effort":"medium"},"temperature":0.2}`,
			[]string{`"max_tokens":12288`, `"thinking":{"type":"enabled","budget_tokens":8192}`}, []string{`"temperature"`}},
		{"anthropic thinking capped by max_tokens", wire.OpenAIChat, wire.Anthropic,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high","max_tokens":4000}`,
			[]string{`"max_tokens":4000`, `"budget_tokens":2000`}, nil},
		{"consecutive users merged for anthropic", wire.OpenAIChat, wire.Anthropic,
			`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`,
			[]string{`"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]`}, nil},
		{"empty text dropped for anthropic", wire.OpenAIChat, wire.Anthropic,
			`{"model":"m","messages":[{"role":"user","content":""},{"role":"user","content":"x"}]}`,
			[]string{`"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]`}, nil},
		{"responses store false and stream", wire.Anthropic, wire.OpenAIResponses,
			`{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`,
			[]string{`"store":false`, `"stream":true`, `"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]`}, nil},
		{"gemini has no model or stream", wire.OpenAIChat, wire.Gemini,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`,
			[]string{`"contents":[{"role":"user","parts":[{"text":"hi"}]}]`}, []string{`"model"`, `"stream"`}},
		{"gemini error result", wire.Anthropic, wire.Gemini,
			`{"model":"m","max_tokens":9,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"boom","is_error":true}]}]}`,
			[]string{`{"functionResponse":{"name":"f","response":{"error":"boom"}}}`}, nil},
		{"gemini ids paired by name", wire.Gemini, wire.OpenAIChat,
			`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"a","args":{}}},{"functionCall":{"name":"b","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"b","response":{"x":1}}},{"functionResponse":{"name":"a","response":{"result":"ok"}}}]}]}`,
			[]string{`{"role":"tool","tool_call_id":"call_2","content":"{\"x\":1}"}`, `{"role":"tool","tool_call_id":"call_1","content":"ok"}`}, nil},
		{"chat json_object to gemini", wire.OpenAIChat, wire.Gemini,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`,
			[]string{`"responseMimeType":"application/json"`}, nil},
		{"chat n to gemini", wire.OpenAIChat, wire.Gemini,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"n":3}`,
			[]string{`"candidateCount":3`}, nil},
		{"string escapes survive", wire.OpenAIChat, wire.Anthropic,
			`{"model":"m","messages":[{"role":"user","content":"a\"b\\c\n\u0001<x>"}]}`,
			[]string{`"text":"a\"b\\c\n\u0001\u003cx\u003e"`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Request(tc.from, tc.to, []byte(tc.body), "up", true)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %s\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(string(out), a) {
					t.Errorf("output has %s\n%s", a, out)
				}
			}
		})
	}
}

func TestUpstreamError(t *testing.T) {
	tests := []struct {
		name       string
		from, to   wire.Protocol
		status     int
		body       string
		wantStatus int
		want       string
	}{
		{"anthropic overloaded to openai", wire.Anthropic, wire.OpenAIChat, 529,
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, 503, `"message":"Overloaded","type":"server_error"`},
		{"gemini bad key to anthropic", wire.Gemini, wire.Anthropic, 400,
			`{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`,
			401, `"type":"authentication_error","message":"API key not valid."`},
		{"openai rate limit to gemini", wire.OpenAIChat, wire.Gemini, 429,
			`{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, 429, `"status":"RESOURCE_EXHAUSTED"`},
		{"openai model not found to anthropic", wire.OpenAIResponses, wire.Anthropic, 404,
			`{"error":{"message":"no such model","type":"invalid_request_error","param":"model","code":"model_not_found"}}`, 404, `"not_found_error"`},
		{"html body", wire.OpenAIChat, wire.Anthropic, 502, `<html>Bad Gateway</html>`, 502, `upstream returned 502: \u003chtml\u003eBad Gateway`},
		{"empty body", wire.Gemini, wire.OpenAIChat, 500, ``, 500, `upstream returned 500 Internal Server Error`},
		{"gemini array body", wire.Gemini, wire.OpenAIChat, 503, `[{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}]`, 503, `"message":"busy"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := UpstreamError(tc.from, tc.to, tc.status, []byte(tc.body))
			if st != tc.wantStatus {
				t.Errorf("status %d, want %d", st, tc.wantStatus)
			}
			if !strings.Contains(string(body), tc.want) {
				t.Errorf("body %s lacks %s", body, tc.want)
			}
		})
	}
}

// TestConverterReuse checks a reused Converter gives the same answers as
// fresh calls: nothing leaks from one body into the next.
func TestConverterReuse(t *testing.T) {
	var c Converter
	for round := 0; round < 2; round++ {
		for _, from := range protocols {
			for _, to := range protocols {
				if from == to {
					continue
				}
				body := readFixture(t, from.String()+"_request.json")
				got, err1 := c.Request(from, to, body, "up", true)
				want, err2 := Request(from, to, body, "up", true)
				if err1 != nil || err2 != nil || string(got) != string(want) {
					t.Fatalf("%s: reused converter differs (%v, %v)", pairName(from, to), err1, err2)
				}
				body = readFixture(t, from.String()+"_response_tools.json")
				got, err1 = c.Response(from, to, body, "m")
				want, err2 = Response(from, to, body, "m")
				if err1 != nil || err2 != nil || string(normalize(got)) != string(normalize(want)) {
					t.Fatalf("%s: reused converter differs on responses (%v, %v)", pairName(from, to), err1, err2)
				}
			}
		}
	}
}

// TestAnthropicSystemTurns: Claude Code puts "system" turns inside
// messages; converted for another protocol they join the system prompt,
// after the top-level system, in the order they came.
func TestAnthropicSystemTurns(t *testing.T) {
	body := []byte(`{"model":"c","max_tokens":50,"system":"first","messages":[` +
		`{"role":"user","content":"hi"},{"role":"system","content":[{"type":"text","text":"second"}]},` +
		`{"role":"assistant","content":"ok"},{"role":"system","content":"third"},{"role":"user","content":"go on"}]}`)
	var c Converter
	for _, to := range []wire.Protocol{wire.OpenAIChat, wire.OpenAIResponses, wire.Gemini} {
		out, err := c.Request(wire.Anthropic, to, body, "m", false)
		if err != nil {
			t.Fatalf("to %v: %v", to, err)
		}
		s := string(out)
		i, j, k := strings.Index(s, "first"), strings.Index(s, "second"), strings.Index(s, "third")
		if i < 0 || j < i || k < j {
			t.Fatalf("to %v: system texts missing or out of order: %s", to, s)
		}
		if strings.Count(s, "go on") != 1 || strings.Count(s, `"hi"`)+strings.Count(s, `"text":"hi"`) == 0 {
			t.Fatalf("to %v: turns lost: %s", to, s)
		}
	}
}
