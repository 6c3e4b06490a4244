package loadtest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// protocol is one client API the generator speaks: where requests go, what
// their bodies look like, and how answers and stream events are read.
type protocol struct {
	name string
	// suffix is the endpoint path after the base URL; gemini puts the model
	// and method in it.
	suffix func(model string, stream bool) string
	// defaultBody is the request body when no --body file is given.
	defaultBody string
	// setStream marks a body as streamed or not (gemini: by the path only).
	setStream func(v *fastjson.Value, a *fastjson.Arena, stream bool)
	// plain reads a non-streamed answer: whether it is a valid answer, and
	// the output tokens it reports (0 when unknown).
	plain func(v *fastjson.Value) (ok bool, tokens int64)
	// event reads one stream event's JSON.
	event func(v *fastjson.Value) eventInfo
	// doneMarker, when set, is the raw data line that ends a stream
	// (OpenAI Chat's [DONE]); other protocols end with an event.
	doneMarker bool
	// headers are sent with every request besides Authorization.
	headers func(apiKey string) [][2]string
	// buildBody encodes a generated conversation into o, with the answer
	// length asked for when maxTokens > 0 and the weather tool declared
	// when tools is set.
	buildBody func(a *fastjson.Arena, o *fastjson.Value, conv []turn, maxTokens int, tools bool)
}

// build returns a generated request body of p.
func (p *protocol) build(conv []turn, maxTokens int, tools bool) []byte {
	var a fastjson.Arena
	o := a.NewObject()
	p.buildBody(&a, o, conv, maxTokens, tools)
	return o.MarshalTo(nil)
}

// eventInfo is what one stream event tells the reader.
type eventInfo struct {
	content bool  // carries generated text
	tokens  int64 // output tokens from a usage block, 0 if none
	done    bool  // the stream's proper end
	failed  bool  // an error event
}

var protocols = map[string]*protocol{
	"chat": {
		name:        "chat",
		suffix:      func(string, bool) string { return "/v1/chat/completions" },
		defaultBody: `{"model":"mock-gpt","messages":[{"role":"user","content":"Hello"}]}`,
		setStream: func(v *fastjson.Value, a *fastjson.Arena, stream bool) {
			v.Del("stream")
			v.Del("stream_options")
			if !stream {
				v.Set("stream", a.NewFalse())
				return
			}
			v.Set("stream", a.NewTrue())
			opts := a.NewObject()
			opts.Set("include_usage", a.NewTrue())
			v.Set("stream_options", opts)
		},
		plain: func(v *fastjson.Value) (bool, int64) {
			return v.Get("choices") != nil, int64(v.GetInt("usage", "completion_tokens"))
		},
		event: func(v *fastjson.Value) eventInfo {
			e := eventInfo{failed: v.Exists("error")}
			if u := v.Get("usage"); u != nil && u.Type() == fastjson.TypeObject {
				e.tokens = int64(u.GetInt("completion_tokens"))
			}
			e.content = len(v.GetStringBytes("choices", "0", "delta", "content")) > 0
			return e
		},
		doneMarker: true,
		buildBody: func(a *fastjson.Arena, o *fastjson.Value, conv []turn, maxTokens int, tools bool) {
			var msgs []*fastjson.Value
			for _, t := range conv {
				switch {
				case t.call:
					msgs = append(msgs, mustJSON(a, `{"role":"assistant","content":null,"tool_calls":[{"id":"`+toolCallID+
						`","type":"function","function":{"name":"`+toolName+`","arguments":`+strconv.Quote(toolArgs)+`}}]}`))
				case t.result:
					msgs = append(msgs, mustJSON(a, `{"role":"tool","tool_call_id":"`+toolCallID+`","content":`+strconv.Quote(toolResult)+`}`))
				default:
					msgs = append(msgs, textMessage(a, t))
				}
			}
			o.Set("messages", appendAll(a, msgs))
			if tools {
				o.Set("tools", mustJSON(a, `[{"type":"function","function":{"name":"`+toolName+
					`","description":"Current weather of a city","parameters":`+toolSchema+`}}]`))
			}
			if maxTokens > 0 {
				o.Set("max_tokens", a.NewNumberInt(maxTokens))
			}
		},
	},
	"responses": {
		name:        "responses",
		suffix:      func(string, bool) string { return "/v1/responses" },
		defaultBody: `{"model":"mock-gpt","input":"Hello"}`,
		setStream:   setStreamField,
		plain: func(v *fastjson.Value) (bool, int64) {
			return v.Get("output") != nil, int64(v.GetInt("usage", "output_tokens"))
		},
		event: func(v *fastjson.Value) eventInfo {
			switch string(v.GetStringBytes("type")) {
			case "response.output_text.delta":
				return eventInfo{content: len(v.GetStringBytes("delta")) > 0}
			case "response.completed", "response.incomplete":
				return eventInfo{done: true, tokens: int64(v.GetInt("response", "usage", "output_tokens"))}
			case "response.failed", "error":
				return eventInfo{failed: true}
			}
			return eventInfo{}
		},
		buildBody: func(a *fastjson.Arena, o *fastjson.Value, conv []turn, maxTokens int, tools bool) {
			var items []*fastjson.Value
			for _, t := range conv {
				switch {
				case t.call:
					items = append(items, mustJSON(a, `{"type":"function_call","call_id":"`+toolCallID+`","name":"`+toolName+
						`","arguments":`+strconv.Quote(toolArgs)+`}`))
				case t.result:
					items = append(items, mustJSON(a, `{"type":"function_call_output","call_id":"`+toolCallID+`","output":`+strconv.Quote(toolResult)+`}`))
				default:
					items = append(items, textMessage(a, t))
				}
			}
			o.Set("input", appendAll(a, items))
			if tools {
				o.Set("tools", mustJSON(a, `[{"type":"function","name":"`+toolName+
					`","description":"Current weather of a city","parameters":`+toolSchema+`}]`))
			}
			if maxTokens > 0 {
				o.Set("max_output_tokens", a.NewNumberInt(maxTokens))
			}
		},
	},
	"anthropic": {
		name:        "anthropic",
		suffix:      func(string, bool) string { return "/v1/messages" },
		defaultBody: `{"model":"mock-gpt","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]}`,
		setStream:   setStreamField,
		plain: func(v *fastjson.Value) (bool, int64) {
			return v.Get("content") != nil, int64(v.GetInt("usage", "output_tokens"))
		},
		event: func(v *fastjson.Value) eventInfo {
			switch string(v.GetStringBytes("type")) {
			case "content_block_delta":
				return eventInfo{content: len(v.GetStringBytes("delta", "text")) > 0}
			case "message_delta":
				return eventInfo{tokens: int64(v.GetInt("usage", "output_tokens"))}
			case "message_stop":
				return eventInfo{done: true}
			case "error":
				return eventInfo{failed: true}
			}
			return eventInfo{}
		},
		buildBody: func(a *fastjson.Arena, o *fastjson.Value, conv []turn, maxTokens int, tools bool) {
			if maxTokens <= 0 {
				maxTokens = 1024 // required by the API
			}
			o.Set("max_tokens", a.NewNumberInt(maxTokens))
			var msgs []*fastjson.Value
			for _, t := range conv {
				switch {
				case t.call:
					msgs = append(msgs, mustJSON(a, `{"role":"assistant","content":[{"type":"tool_use","id":"`+toolCallID+
						`","name":"`+toolName+`","input":`+toolArgs+`}]}`))
				case t.result:
					msgs = append(msgs, mustJSON(a, `{"role":"user","content":[{"type":"tool_result","tool_use_id":"`+toolCallID+
						`","content":`+strconv.Quote(toolResult)+`}]}`))
				default:
					msgs = append(msgs, textMessage(a, t))
				}
			}
			o.Set("messages", appendAll(a, msgs))
			if tools {
				o.Set("tools", mustJSON(a, `[{"name":"`+toolName+`","description":"Current weather of a city","input_schema":`+toolSchema+`}]`))
			}
		},
		headers: func(key string) [][2]string {
			h := [][2]string{{"anthropic-version", "2023-06-01"}}
			if key != "" {
				h = append(h, [2]string{"x-api-key", key})
			}
			return h
		},
	},
	"gemini": {
		name: "gemini",
		suffix: func(model string, stream bool) string {
			if stream {
				return "/v1beta/models/" + url.PathEscape(model) + ":streamGenerateContent?alt=sse"
			}
			return "/v1beta/models/" + url.PathEscape(model) + ":generateContent"
		},
		defaultBody: `{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}`,
		setStream:   func(*fastjson.Value, *fastjson.Arena, bool) {},
		plain: func(v *fastjson.Value) (bool, int64) {
			return v.Get("candidates") != nil, int64(v.GetInt("usageMetadata", "candidatesTokenCount"))
		},
		event: func(v *fastjson.Value) eventInfo {
			if v.Exists("error") {
				return eventInfo{failed: true}
			}
			return eventInfo{
				content: len(v.GetStringBytes("candidates", "0", "content", "parts", "0", "text")) > 0,
				tokens:  int64(v.GetInt("usageMetadata", "candidatesTokenCount")),
				done:    len(v.GetStringBytes("candidates", "0", "finishReason")) > 0,
			}
		},
		headers: func(key string) [][2]string {
			if key == "" {
				return nil
			}
			return [][2]string{{"x-goog-api-key", key}}
		},
		buildBody: func(a *fastjson.Arena, o *fastjson.Value, conv []turn, maxTokens int, tools bool) {
			var contents []*fastjson.Value
			for _, t := range conv {
				switch {
				case t.call:
					contents = append(contents, mustJSON(a, `{"role":"model","parts":[{"functionCall":{"name":"`+toolName+`","args":`+toolArgs+`}}]}`))
				case t.result:
					contents = append(contents, mustJSON(a, `{"role":"user","parts":[{"functionResponse":{"name":"`+toolName+`","response":`+toolResult+`}}]}`))
				default:
					m := a.NewObject()
					role := "model"
					if t.user {
						role = "user"
					}
					m.Set("role", a.NewString(role))
					part := a.NewObject()
					part.Set("text", a.NewString(t.text))
					m.Set("parts", appendAll(a, []*fastjson.Value{part}))
					contents = append(contents, m)
				}
			}
			o.Set("contents", appendAll(a, contents))
			if tools {
				o.Set("tools", mustJSON(a, `[{"functionDeclarations":[{"name":"`+toolName+`","description":"Current weather of a city","parameters":`+toolSchema+`}]}]`))
			}
			if maxTokens > 0 {
				gc := a.NewObject()
				gc.Set("maxOutputTokens", a.NewNumberInt(maxTokens))
				o.Set("generationConfig", gc)
			}
		},
	},
}

// protocolNames lists the protocols for messages.
const protocolNames = "chat, responses, anthropic, gemini"

func setStreamField(v *fastjson.Value, a *fastjson.Arena, stream bool) {
	v.Del("stream")
	if stream {
		v.Set("stream", a.NewTrue())
	} else {
		v.Set("stream", a.NewFalse())
	}
}

// endpointPaths recognises a full endpoint URL path: it returns the base
// path before the endpoint, the protocol it belongs to, and for Gemini the
// model named in it. ok is false for a base URL.
func endpointPaths(path string) (base, proto, model string, ok bool) {
	for _, s := range []struct{ suffix, proto string }{
		{"/v1/chat/completions", "chat"}, {"/v1/responses", "responses"}, {"/v1/messages", "anthropic"},
	} {
		if strings.HasSuffix(path, s.suffix) {
			return strings.TrimSuffix(path, s.suffix), s.proto, "", true
		}
	}
	if i := strings.Index(path, "/v1beta/models/"); i >= 0 {
		rest := path[i+len("/v1beta/models/"):]
		if m, method, found := strings.Cut(rest, ":"); found && (method == "generateContent" || method == "streamGenerateContent") {
			if um, err := url.PathUnescape(m); err == nil {
				m = um
			}
			return path[:i], "gemini", m, true
		}
	}
	return "", "", "", false
}

// protocolFor resolves --protocol against the target URL: a full endpoint
// URL names its protocol, which must agree with an explicit --protocol.
func protocolFor(flag string, target string) (*protocol, error) {
	inferred := ""
	if target != "" {
		if u, err := url.Parse(target); err == nil {
			if _, p, _, ok := endpointPaths(u.Path); ok {
				inferred = p
			}
		}
	}
	name := flag
	switch {
	case name == "":
		name = inferred
		if name == "" {
			name = "chat"
		}
	case inferred != "" && inferred != name:
		return nil, fmt.Errorf("--protocol %s but --target %s is a %s endpoint", flag, target, inferred)
	}
	p, ok := protocols[name]
	if !ok {
		return nil, fmt.Errorf("unknown --protocol %q (%s)", name, protocolNames)
	}
	return p, nil
}
