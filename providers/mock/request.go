package mock

import (
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Behaviour is how the mock answers: defaults from configuration or flags,
// overridable per request with X-Mock-* headers so that tests can script an
// upstream through the proxy (which forwards end-to-end headers).
type Behaviour struct {
	Tokens int
	Delay  time.Duration
	// Status, when not 0 or 200, answers with an error of that status.
	Status int
	// Stall waits this long before answering at all.
	Stall time.Duration
	// TruncateAfter ends streams after that many content chunks without a terminator.
	TruncateAfter int
	// Tools decides when the answer is the tool-call answer.
	Tools ToolMode
	// Finish is the text answer's OpenAI finish_reason: "" (stop), "length"
	// or "content_filter", to test how each protocol reports a cut answer.
	Finish string
}

// ToolMode decides when the mock answers with tool calls instead of text.
type ToolMode uint8

const (
	// ToolsAuto answers with tool calls when the request declares tools and
	// its last message is a user message that mentions "weather"; after a
	// tool result it answers text, like a model that got what it asked for.
	ToolsAuto ToolMode = iota
	// ToolsAlways answers every request with tool calls.
	ToolsAlways
	// ToolsNever answers every request with text.
	ToolsNever
)

// Header names that override a Behaviour per request.
const (
	HeaderTokens   = "X-Mock-Tokens"
	HeaderDelay    = "X-Mock-Delay"
	HeaderStatus   = "X-Mock-Status"
	HeaderStall    = "X-Mock-Stall"
	HeaderTruncate = "X-Mock-Truncate-After"
	// HeaderTools is auto, always or never (ToolMode).
	HeaderTools = "X-Mock-Tool-Calls"
	// HeaderFinish is stop, length or content_filter (Behaviour.Finish).
	HeaderFinish = "X-Mock-Finish-Reason"
)

// Headers lists every scripting header, for an operator's forward_headers
// when a test drives the mock through the proxy.
var Headers = []string{HeaderTokens, HeaderDelay, HeaderStatus, HeaderStall, HeaderTruncate, HeaderTools, HeaderFinish}

// Override applies one X-Mock-* header; peek returns a header's value.
func (b *Behaviour) Override(peek func(string) []byte) {
	if v := peek(HeaderTokens); len(v) > 0 {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
			b.Tokens = n
		}
	}
	if v := peek(HeaderDelay); len(v) > 0 {
		if d, err := time.ParseDuration(string(v)); err == nil && d >= 0 {
			b.Delay = d
		}
	}
	if v := peek(HeaderStatus); len(v) > 0 {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 100 && n < 600 {
			b.Status = n
		}
	}
	if v := peek(HeaderStall); len(v) > 0 {
		if d, err := time.ParseDuration(string(v)); err == nil && d >= 0 {
			b.Stall = d
		}
	}
	if v := peek(HeaderTruncate); len(v) > 0 {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
			b.TruncateAfter = n
		}
	}
	switch v := string(peek(HeaderFinish)); v {
	case "stop":
		b.Finish = ""
	case "length", "content_filter":
		b.Finish = v
	}
	switch string(peek(HeaderTools)) {
	case "auto":
		b.Tools = ToolsAuto
	case "always":
		b.Tools = ToolsAlways
	case "never":
		b.Tools = ToolsNever
	}
}

// Parsed is what the mock reads from a request.
type Parsed struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	PromptTokens int
	// AsksTools: the request declares tools and its last message is a user
	// message that mentions "weather" (see ToolsAuto).
	AsksTools bool
	// Script is the answer the request scripted, if any (see Script).
	Script *Script
}

// ParseChat reads an OpenAI chat request body with p (which the caller owns).
func ParseChat(p *fastjson.Parser, body []byte) (Parsed, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return Parsed{}, err
	}
	out := Parsed{
		Model:        string(v.GetStringBytes("model")),
		Stream:       v.GetBool("stream"),
		IncludeUsage: v.GetBool("stream_options", "include_usage"),
		// About four bytes a token, the usual rule of thumb for English.
		PromptTokens: len(body)/4 + 1,
	}
	if len(v.GetArray("tools")) > 0 {
		out.AsksTools = chatAsksTools(v.GetArray("messages"))
	}
	out.Script = scriptFor(wire.OpenAIChat, v)
	return out, nil
}

// Answer builds the answer for a parsed request under b.
func (b *Behaviour) Answer(p Parsed) Answer {
	return Answer{
		Model:         p.Model,
		Tokens:        b.Tokens,
		PromptTokens:  p.PromptTokens,
		IncludeUsage:  p.IncludeUsage,
		Delay:         b.Delay,
		TruncateAfter: b.TruncateAfter,
		ToolCalls:     b.Tools == ToolsAlways || b.Tools == ToolsAuto && p.AsksTools,
		Finish:        b.Finish,
		Script:        p.Script,
	}
}

// AppendErrorBody appends an OpenAI-shaped error for an injected status,
// with the type and code OpenAI uses for that class of error (a 429 says
// rate_limit_exceeded), so that clients and converters classify it as the
// real API's would be.
func AppendErrorBody(dst []byte, status int) []byte {
	return appendInjected(dst, wire.OpenAIChat, status)
}

// appendInjected appends proto's error body for an injected status. Gemini
// bodies repeat the HTTP status as their code, which the Gemini SDKs
// report; it stays the injected one even where no Kind has it (529).
func appendInjected(dst []byte, proto wire.Protocol, status int) []byte {
	msg := "mock upstream injected status " + strconv.Itoa(status)
	if proto != wire.Gemini {
		return wire.AppendError(dst, proto, wire.KindForStatus(status), msg, "")
	}
	start := len(dst)
	dst = wire.AppendError(dst, proto, wire.KindForStatus(status), msg, "")
	// The body starts {"error":{"code":NNN,...: replace the class's code.
	head := len(`{"error":{"code":`)
	end := start + head
	for end < len(dst) && dst[end] >= '0' && dst[end] <= '9' {
		end++
	}
	tail := append([]byte(nil), dst[end:]...)
	dst = strconv.AppendInt(dst[:start+head], int64(status), 10)
	return append(dst, tail...)
}
