package proxy

import (
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// writeError answers with an error body in protocol p.
func writeError(ctx *fasthttp.RequestCtx, p wire.Protocol, kind wire.Kind, message, param string) {
	ctx.SetUserValue(userError, errorNote{kind: kind, message: message})
	ctx.Response.ResetBody()
	ctx.SetStatusCode(kind.Status())
	markNoRetry(ctx, kind.Status())
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(wire.AppendError(ctx.Response.Body()[:0], p, kind, message, param))
}

// protocolForPath guesses the client's protocol from a request path, for
// answers (404, 405, 401, 413) given before a route is known.
func protocolForPath(path []byte) wire.Protocol {
	s := string(path)
	switch {
	case strings.Contains(s, "/v1beta/") || strings.Contains(s, "/v1/models/") && strings.Contains(s, ":"):
		return wire.Gemini
	case strings.Contains(s, "/v1/messages"):
		return wire.Anthropic
	case strings.Contains(s, "/v1/responses"):
		return wire.OpenAIResponses
	}
	return wire.OpenAIChat
}

// userError is the RequestCtx user-value key under which writeError leaves
// what it answered, for the access line.
const userError = "proxy.error"

// userDroppedTools is the RequestCtx user-value key of the hosted tools a
// conversion dropped (comma-separated), for the access line.
const userDroppedTools = "proxy.dropped_tools"

// noteDroppedTools records on the access line which hosted tools (Codex's
// web_search, ...) a conversion left out because the upstream cannot run
// them: the request still works, but the operator should know why the
// model never searched.
func noteDroppedTools(x *exchange) {
	if x.tools == nil || len(x.tools.Dropped) == 0 {
		return
	}
	x.ctx.SetUserValue(userDroppedTools, strings.Join(x.tools.Dropped, ","))
}

// errorNote is an error the proxy answered itself.
type errorNote struct {
	kind    wire.Kind
	message string
}

// markNoRetry tells clients that honour it (the Anthropic and OpenAI SDKs,
// Claude Code) not to retry an answer that the same request will get again:
// without it Claude Code retries a wrong key for minutes in silence.
func markNoRetry(ctx *fasthttp.RequestCtx, status int) {
	switch status {
	case 400, 401, 403, 404:
		ctx.Response.Header.Set("X-Should-Retry", "false")
	}
}
