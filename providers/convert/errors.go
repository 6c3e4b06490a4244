package convert

import (
	"net/http"
	"unicode/utf8"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// maxErrorText bounds how much of a non-JSON upstream error body is quoted
// back to the client.
const maxErrorText = 512

// UpstreamError converts an upstream error (status and body of any shape,
// possibly not JSON) into the client's protocol, returning the status and
// body to answer with.
func UpstreamError(from, to wire.Protocol, status int, body []byte) (int, []byte) {
	kind, msg, param := classifyError(from, status, body)
	return kind.Status(), wire.AppendError(nil, to, kind, msg, param)
}

// classifyError reads an upstream error body: its message, the field it
// names and a Kind refined beyond the bare status where the body says more
// (Gemini reports a bad key as 400, Anthropic overload as 529).
func classifyError(from wire.Protocol, status int, body []byte) (wire.Kind, string, string) {
	kind := wire.KindForStatus(status)
	var ps fastjson.Parser
	var e *fastjson.Value
	if fastjson.ValidateBytes(body) == nil {
		if root, err := ps.ParseBytes(body); err == nil {
			// Gemini's stream endpoint wraps errors in an array.
			if a, err := root.Array(); err == nil && len(a) > 0 {
				root = a[0]
			}
			e = root.Get("error")
			if e != nil && e.Type() == fastjson.TypeString {
				// {"error":"text"} from some OpenAI-compatible servers.
				b, _ := e.StringBytes()
				return kind, string(b), ""
			}
			if !isType(e, fastjson.TypeObject) {
				e = nil
			}
		}
	}
	if e == nil {
		return kind, errorText(status, body), ""
	}
	msg := str(e, "message")
	param := str(e, "param")
	kind = refineKind(kind, e)
	if msg == "" {
		msg = errorText(status, nil)
	}
	return kind, msg, param
}

// refineKind sharpens a status-derived Kind with what an error object says
// in any of the three error vocabularies.
func refineKind(kind wire.Kind, e *fastjson.Value) wire.Kind {
	code, typ, gstatus := str(e, "code"), str(e, "type"), str(e, "status")
	switch {
	case code == "model_not_found" || (typ == "not_found_error" && containsModel(str(e, "message"))):
		kind = wire.ModelNotFound
	case typ == "overloaded_error" || gstatus == "UNAVAILABLE" || code == "server_is_overloaded":
		kind = wire.Unavailable
	case typ == "authentication_error" || gstatus == "UNAUTHENTICATED" || code == "invalid_api_key":
		kind = wire.Authentication
	case typ == "rate_limit_error" || gstatus == "RESOURCE_EXHAUSTED" || code == "rate_limit_exceeded" || code == "insufficient_quota":
		kind = wire.RateLimited
	case typ == "permission_error" || gstatus == "PERMISSION_DENIED":
		kind = wire.Permission
	case gstatus == "DEADLINE_EXCEEDED" || typ == "timeout_error":
		kind = wire.Timeout
	case typ == "invalid_request_error" && kind >= wire.Internal:
		kind = wire.InvalidRequest
	}
	// A generic server type (api_error, server_error, INTERNAL) says nothing
	// the status does not: a 429 that calls itself server_error is still a
	// rate limit the client must back off from.
	details, _ := arrayOf(e.Get("details"))
	for _, d := range details {
		if r := str(d, "reason"); r == "API_KEY_INVALID" || r == "API_KEY_EXPIRED" {
			kind = wire.Authentication
		}
	}
	return kind
}

func containsModel(s string) bool {
	for i := 0; i+5 <= len(s); i++ {
		if equalFold(s[i:i+5], "model") {
			return true
		}
	}
	return false
}

// errorText is the message for an upstream error body that is not one of
// the known JSON shapes: the body itself, cut short and made valid UTF-8, or
// the status text when the body is empty.
func errorText(status int, body []byte) string {
	if len(body) > maxErrorText {
		body = body[:maxErrorText]
	}
	for len(body) > 0 && !utf8.Valid(body) {
		body = body[:len(body)-1]
	}
	if len(body) == 0 {
		t := http.StatusText(status)
		if t == "" {
			t = "upstream error"
		}
		return "upstream returned " + itoa(status) + " " + t
	}
	return "upstream returned " + itoa(status) + ": " + string(body)
}

func itoa(n int) string { return string(appendInt(nil, n)) }
