package proxy

import (
	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/sysprompt"
)

// upstreamBody is the request body in the provider's protocol: the client's
// own bytes when both sides speak the same protocol (with the model name
// patched if routing changed it), a conversion otherwise.
func (s *Server) upstreamBody(x *exchange) ([]byte, error) {
	body := x.ctx.PostBody()
	if x.snap.sysPrompt != "" && x.op == providers.OpGenerate {
		var err error
		if body, err = sysprompt.Apply(nil, x.in, body, x.snap.sysPrompt, x.snap.sysMode); err != nil {
			return nil, err
		}
	}
	to := x.route.provider.Protocol()
	x.tools = nil
	if isAuxiliary(x.op) {
		return auxiliaryBody(x, body)
	}
	if to != x.in {
		c, _ := s.converters.Get().(*convert.Converter)
		if c == nil {
			c = new(convert.Converter)
		}
		c.Target = x.snap.target(x.route)
		out, err := c.Request(x.in, to, body, x.route.model, x.stream)
		x.tools = c.Tools
		c.Tools = nil
		noteDroppedTools(x)
		if len(body) <= pooledBodyMax {
			s.converters.Put(c)
		}
		return out, err
	}
	if x.in == wire.Anthropic && x.op == providers.OpGenerate {
		var err error
		if body, err = raiseThinkingBudget(body); err != nil {
			return nil, err
		}
	}
	if !x.route.rewrite || x.in == wire.Gemini {
		// Gemini names the model in the URL, which the provider builds.
		return body, nil
	}
	return jsonpatch.Replace(nil, body, "model", wire.AppendJSONString(nil, x.route.model))
}
