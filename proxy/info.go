package proxy

import (
	"strconv"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// renderModels pre-renders the OpenAI model list of all providers.
func (s *Server) renderModels(list []providers.Provider) []byte {
	return mock.AppendModels(nil, "llmproxy", providers.NewRegistry(list).Models())
}

// models answers GET /v1/models (all providers) and /{provider}/v1/models.
func (s *Server) models(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	if name, _ := ctx.UserValue("provider").(string); name != "" {
		p, ok := s.registry.ByName(name)
		if !ok {
			writeError(ctx, wire.OpenAIChat, wire.NotFound, "unknown provider "+quote(name), "")
			return
		}
		ctx.SetBody(mock.AppendModels(nil, p.Name(), providers.NewRegistry([]providers.Provider{p}).Models()))
		return
	}
	ctx.SetBody(s.modelsBody)
}

// health answers GET /health without authentication: the overall status
// and each provider's state.
func (s *Server) health(ctx *fasthttp.RequestCtx) {
	b := append([]byte(nil), `{"status":"ok","providers":[`...)
	for i, p := range s.registry.All() {
		st := p.State()
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = wire.AppendJSONString(b, p.Name())
		b = append(b, `,"protocol":`...)
		b = wire.AppendJSONString(b, p.Protocol().String())
		b = append(b, `,"status":`...)
		b = wire.AppendJSONString(b, st.Status)
		b = append(b, `,"conns_open":`...)
		b = strconv.AppendInt(b, int64(st.ConnsOpen), 10)
		b = append(b, `,"pending":`...)
		b = strconv.AppendInt(b, int64(st.Pending), 10)
		b = append(b, `,"keys":`...)
		b = strconv.AppendInt(b, int64(st.Keys), 10)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
