package loadtest

import (
	"fmt"
	"net/url"
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
