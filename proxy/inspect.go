package proxy

import (
	"github.com/valyala/fastjson"
)

// requestInfo is what routing needs from a client request body.
type requestInfo struct {
	model  []byte
	stream bool
	// includeUsage is OpenAI chat's stream_options.include_usage.
	includeUsage bool
}

// badField is a client mistake in the request body, answered with 400.
type badField struct {
	param, message string
}

// inspectChat reads an OpenAI chat request: it must be a JSON object with a
// model string, a non-empty messages array and, if present, a boolean stream.
// The returned model points into p's memory: it dies at p's next Parse.
func inspectChat(p *fastjson.Parser, body []byte) (requestInfo, *badField) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return requestInfo{}, &badField{"", "request body is not valid JSON: " + err.Error()}
	}
	if v.Type() != fastjson.TypeObject {
		return requestInfo{}, &badField{"", "request body must be a JSON object"}
	}
	var info requestInfo
	m := v.Get("model")
	if m == nil {
		return info, &badField{"model", "you must provide a model parameter"}
	}
	if m.Type() != fastjson.TypeString {
		return info, &badField{"model", "model must be a string"}
	}
	info.model, _ = m.StringBytes()
	if len(info.model) == 0 {
		return info, &badField{"model", "model must not be empty"}
	}
	msgs := v.Get("messages")
	if msgs == nil {
		return info, &badField{"messages", "missing required parameter: 'messages'"}
	}
	arr, err := msgs.Array()
	if err != nil {
		return info, &badField{"messages", "messages must be an array"}
	}
	if len(arr) == 0 {
		return info, &badField{"messages", "messages must contain at least one message"}
	}
	info.includeUsage = v.GetBool("stream_options", "include_usage")
	if s := v.Get("stream"); s != nil {
		switch s.Type() {
		case fastjson.TypeTrue:
			info.stream = true
		case fastjson.TypeFalse, fastjson.TypeNull:
		default:
			return info, &badField{"stream", "stream must be a boolean"}
		}
	}
	return info, nil
}
