// Package convert translates LLM API requests, responses, upstream errors and
// streams between the four wire protocols in providers/wire (OpenAI Chat
// Completions, OpenAI Responses, Anthropic Messages and Gemini).
//
// Every conversion goes through a small protocol-neutral model: one parser per
// protocol reads a body into it and one writer per protocol renders it, so the
// twelve cross pairs share 4+4 pieces instead of twelve hand-written paths.
// Bodies are read with fastjson and written with byte appends; nothing here
// uses encoding/json. Anything that cannot be carried faithfully is rejected
// with a *FieldError naming the field rather than silently changed; the few
// deliberate drops are listed in the package README section.
package convert

import (
	"fmt"
	"strconv"
	"unsafe"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// FieldError is a client error (HTTP 400) that names the offending request
// field, e.g. "messages[2].content[0].type".
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// idx appends "[i]" to a field path, for error messages.
func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// b2s views b as a string without copying; callers never keep the result past
// the lifetime of b.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Inspect reads what the router needs from an ingress request body: the model
// (empty for Gemini, whose model is in the URL) and whether a stream was asked
// (always false for Gemini, which decides by URL). It checks the fields each
// protocol requires and returns a *FieldError for missing or mistyped ones.
func Inspect(p wire.Protocol, body []byte) (model string, stream bool, err error) {
	ps := getParser(len(body))
	defer putParser(ps, len(body))
	root, err := parseBody(ps, body)
	if err != nil {
		return "", false, err
	}
	switch p {
	case wire.OpenAIChat:
		model, err = requireModel(root)
		if err == nil {
			err = requireArray(root, "messages")
		}
		if err == nil {
			err = checkTurns(root.Get("messages"), "messages", "role", "content", chatRoles)
		}
	case wire.OpenAIResponses:
		model, err = requireModel(root)
		if err == nil {
			in := root.Get("input")
			if in == nil || (in.Type() != fastjson.TypeString && in.Type() != fastjson.TypeArray) {
				err = fieldErr("input", "is required and must be a string or an array")
			}
		}
	case wire.Anthropic:
		model, err = requireModel(root)
		if err == nil {
			err = requireArray(root, "messages")
		}
		if err == nil {
			err = checkTurns(root.Get("messages"), "messages", "role", "content", anthropicRoles)
		}
		if err == nil {
			mt := root.Get("max_tokens")
			if mt == nil {
				err = fieldErr("max_tokens", "is required")
			} else if n, e := mt.Int(); e != nil || n < 1 {
				err = fieldErr("max_tokens", "must be a positive integer")
			}
		}
	case wire.Gemini:
		err = requireArray(root, "contents")
		if err == nil {
			err = checkTurns(root.Get("contents"), "contents", "role", "parts", geminiRoles)
		}
		return "", false, err
	default:
		return "", false, fieldErr("", "unknown protocol %d", p)
	}
	if err != nil {
		return "", false, err
	}
	if s := root.Get("stream"); s != nil {
		switch s.Type() {
		case fastjson.TypeTrue:
			stream = true
		case fastjson.TypeFalse, fastjson.TypeNull:
		default:
			return "", false, fieldErr("stream", "must be a boolean")
		}
	}
	return model, stream, nil
}

// parsers keeps JSON parsers warm between requests and stream events: a
// fresh fastjson.Parser allocates its value cache anew (measured: 12
// allocations to inspect a small Messages body, 1 per converted event).
// Values parsed with one die when it is put back, so only copies leave.
var parsers fastjson.ParserPool

// getParser returns a parser for an input of n bytes: a pooled one, or a
// fresh one above maxReusedBody, since a parser keeps memory in proportion
// to the largest input it saw.
func getParser(n int) *fastjson.Parser {
	if n > maxReusedBody {
		return new(fastjson.Parser)
	}
	return parsers.Get()
}

// putParser returns a parser getParser gave for an input of n bytes.
func putParser(p *fastjson.Parser, n int) {
	if n <= maxReusedBody {
		parsers.Put(p)
	}
}

// parseBody validates body strictly (fastjson's parser alone accepts some
// non-JSON numbers) and parses it into ps.
func parseBody(ps *fastjson.Parser, body []byte) (*fastjson.Value, error) {
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, fieldErr("", "request body is not valid JSON: %v", err)
	}
	root, err := ps.ParseBytes(body)
	if err != nil {
		return nil, fieldErr("", "request body is not valid JSON: %v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return nil, fieldErr("", "request body must be a JSON object")
	}
	return root, nil
}

func requireModel(root *fastjson.Value) (string, error) {
	m := root.Get("model")
	if m == nil || m.Type() != fastjson.TypeString {
		return "", fieldErr("model", "is required and must be a string")
	}
	s, _ := m.StringBytes()
	if len(s) == 0 {
		return "", fieldErr("model", "must not be empty")
	}
	return string(s), nil
}

func requireArray(root *fastjson.Value, key string) error {
	v := root.Get(key)
	if v == nil || v.Type() != fastjson.TypeArray {
		return fieldErr(key, "is required and must be an array")
	}
	return nil
}

var (
	chatRoles = []string{"system", "developer", "user", "assistant", "tool", "function"}
	// Claude Code sends "system" turns inside messages (with the beta
	// mid-conversation-system-2026-04-07) for models it does not know.
	anthropicRoles = []string{"user", "assistant", "system"}
	geminiRoles    = []string{"user", "model", "function", ""}
)

// checkTurns checks the shape every turn of a conversation array must have:
// an object with a known role, and content that, when it is an array, holds
// typed parts (Gemini parts carry no type field, only a kind key).
func checkTurns(arr *fastjson.Value, field, roleKey, contentKey string, roles []string) error {
	turns, _ := arr.Array()
	for i, m := range turns {
		f := idx(field, i)
		if m.Type() != fastjson.TypeObject {
			return fieldErr(f, "must be an object")
		}
		r := m.Get(roleKey)
		if r != nil && r.Type() != fastjson.TypeString {
			return fieldErr(f+"."+roleKey, "must be a string")
		}
		rs := strS(m, roleKey)
		if r == nil && roles[len(roles)-1] != "" {
			return fieldErr(f+"."+roleKey, "is required")
		}
		known := false
		for _, k := range roles {
			known = known || rs == k
		}
		if !known {
			return fieldErr(f+"."+roleKey, "unknown role %q", rs)
		}
		c := m.Get(contentKey)
		if c == nil || c.Type() != fastjson.TypeArray {
			if contentKey == "parts" {
				return fieldErr(f+".parts", "is required and must be an array")
			}
			continue
		}
		parts, _ := c.Array()
		for j, p := range parts {
			pf := idx(f+"."+contentKey, j)
			if p.Type() != fastjson.TypeObject {
				return fieldErr(pf, "must be an object")
			}
			if contentKey != "parts" && !isType(p.Get("type"), fastjson.TypeString) {
				return fieldErr(pf+".type", "is required and must be a string")
			}
		}
	}
	return nil
}
