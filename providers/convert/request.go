package convert

import (
	"fmt"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// anthropicDefaultMaxTokens fills Anthropic's required max_tokens when the
// client gave none.
const anthropicDefaultMaxTokens = 4096

// Request converts a request body from protocol `from` to protocol `to`,
// naming `model` as the upstream model and asking for a stream iff stream.
// For Gemini egress the body carries neither: both go in the URL. A field
// that cannot be carried is a *FieldError.
func Request(from, to wire.Protocol, body []byte, model string, stream bool) ([]byte, error) {
	var c Converter
	return c.Request(from, to, body, model, stream)
}

// maxReusedBody is the largest body a Converter parses with its kept
// parser: the parser keeps memory in proportion to the largest body it saw.
const maxReusedBody = 256 << 10

// Converter is Request and Response with a JSON parser kept between calls,
// which removes most of their allocations. The zero value is ready; it is
// not safe for concurrent use, so keep one per worker or in a sync.Pool.
type Converter struct {
	ps fastjson.Parser
	// Target describes the upstream model of the next Request (set it
	// before each call; the zero value changes nothing).
	Target Target
	// Tools is how the last Request renamed a Responses client's namespace
	// and custom tools (and which hosted tools it dropped); nil when it
	// renamed and dropped none. Pass it to ResponseMapped or
	// Stream.MapTools so calls reach the client under its own names.
	Tools *ToolMap
}

func (c *Converter) parser(body []byte) *fastjson.Parser {
	if len(body) > maxReusedBody {
		return new(fastjson.Parser)
	}
	return &c.ps
}

// Request is the package-level Request using c's parser.
func (c *Converter) Request(from, to wire.Protocol, body []byte, model string, stream bool) ([]byte, error) {
	c.Tools = nil
	root, err := parseBody(c.parser(body), body)
	if err != nil {
		return nil, err
	}
	var r *request
	switch from {
	case wire.OpenAIChat:
		r, err = parseChat(root)
	case wire.OpenAIResponses:
		r, err = parseResponses(root)
	case wire.Anthropic:
		r, err = parseAnthropic(root)
	case wire.Gemini:
		r, err = parseGemini(root)
	default:
		return nil, fmt.Errorf("convert request: unknown source protocol %d", from)
	}
	if err != nil {
		return nil, err
	}
	fitTarget(r, c.Target)
	c.Tools = nil
	if !r.tmap.empty() {
		c.Tools = r.tmap
	}
	if r.n > 1 && to != wire.OpenAIChat && to != wire.Gemini {
		return nil, fieldErr(nField(from), "more than one choice (%d) cannot be carried to a %s upstream", r.n, to)
	}
	dst := make([]byte, 0, len(body)+256)
	switch to {
	case wire.OpenAIChat:
		return writeChatRequest(dst, r, model, stream)
	case wire.OpenAIResponses:
		return writeResponsesRequest(dst, r, model, stream)
	case wire.Anthropic:
		return writeAnthropicRequest(dst, r, model, stream)
	case wire.Gemini:
		return writeGeminiRequest(dst, r)
	}
	return nil, fmt.Errorf("convert request: unknown target protocol %d", to)
}

func nField(p wire.Protocol) string {
	if p == wire.Gemini {
		return "generationConfig.candidateCount"
	}
	return "n"
}

// toolNames maps every tool call id in the history to its function name, so
// a result can be given the name Gemini wants.
func toolNames(r *request) map[string]string {
	m := map[string]string{}
	for i := range r.msgs {
		for j := range r.msgs[i].parts {
			if p := &r.msgs[i].parts[j]; p.kind == partToolCall {
				m[p.id] = p.name
			}
		}
	}
	return m
}

// resultText is a tool result as text: JSON results are serialized.
func resultText(p *part) string {
	if p.resultJSON != nil {
		return string(p.resultJSON)
	}
	return p.text
}

func joinSystem(r *request) string {
	n := 0
	for _, s := range r.system {
		n += len(s) + 2
	}
	b := make([]byte, 0, n)
	for i, s := range r.system {
		if i > 0 {
			b = append(b, '\n', '\n')
		}
		b = append(b, s...)
	}
	return string(b)
}

// appendImageURL writes an image part as a URL string (data: URL for inline
// bytes), the form both OpenAI APIs take.
func appendImageURL(dst []byte, p *part) []byte {
	if p.url != "" {
		return wire.AppendJSONString(dst, p.url)
	}
	return wire.AppendJSONString(dst, "data:"+p.mime+";base64,"+p.data)
}
