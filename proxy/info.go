package proxy

import (
	"github.com/llmproxy/proxy/providers/accounts"
	"strings"

	"encoding/json"
	"strconv"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// renderModels pre-renders the OpenAI model list of all providers.
func renderModels(list []providers.Provider, aliases []string) []byte {
	return mock.AppendModels(nil, "llmproxy", append(providers.NewRegistry(list).Models(), aliases...))
}

// models answers GET /v1/models (all providers) and /{provider}/v1/models,
// in the list format of the client's protocol: Gemini's for /v1beta/models
// or a Google key, Anthropic's when the client sent anthropic-version, and
// OpenAI's otherwise.
func (s *Server) models(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	snap := s.current()
	proto := protocolOfListing(ctx)
	var names []string
	owner := "llmproxy"
	if name, _ := ctx.UserValue("provider").(string); name != "" {
		p, ok := snap.registry.ByName(name)
		if !ok {
			writeError(ctx, wire.OpenAIChat, wire.NotFound, "unknown provider "+quote(name), "")
			return
		}
		names, owner = providers.NewRegistry([]providers.Provider{p}).Models(), p.Name()
	} else if proto == wire.OpenAIChat && !snap.liveModels {
		ctx.SetBody(snap.modelsBody) // pre-rendered, aliases included
		return
	} else {
		names = append(snap.registry.Models(), aliasNames(snap.cfg)...)
	}
	switch proto {
	case wire.Gemini:
		ctx.SetBody(appendGeminiModels(nil, names))
	case wire.Anthropic:
		ctx.SetBody(appendAnthropicModels(nil, names))
	default:
		ctx.SetBody(mock.AppendModels(nil, owner, names))
	}
}

func protocolOfListing(ctx *fasthttp.RequestCtx) wire.Protocol {
	switch {
	case strings.Contains(string(ctx.Path()), "/v1beta/"), len(ctx.Request.Header.Peek("X-Goog-Api-Key")) > 0,
		len(ctx.QueryArgs().Peek("key")) > 0:
		return wire.Gemini
	case len(ctx.Request.Header.Peek("Anthropic-Version")) > 0:
		return wire.Anthropic
	}
	return wire.OpenAIChat
}

func appendGeminiModels(b []byte, names []string) []byte {
	b = append(b, `{"models":[`...)
	for i, m := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendGeminiModel(b, m)
	}
	return append(b, "]}"...)
}

func appendGeminiModel(b []byte, m string) []byte {
	b = append(b, `{"name":`...)
	b = wire.AppendJSONString(b, "models/"+m)
	b = append(b, `,"displayName":`...)
	b = wire.AppendJSONString(b, m)
	return append(b, `,"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]}`...)
}

func appendAnthropicModel(b []byte, m string) []byte {
	b = append(b, `{"type":"model","id":`...)
	b = wire.AppendJSONString(b, m)
	b = append(b, `,"display_name":`...)
	b = wire.AppendJSONString(b, m)
	return append(b, `,"created_at":"2023-11-14T22:13:20Z"}`...)
}

// model answers GET /v1/models/{id} and /v1beta/models/{id}, the SDKs'
// models.retrieve, in the shape of the client's protocol (as models does),
// for a model this proxy serves (a listed one, an alias, or any name a
// "*" provider takes); 404 otherwise.
func (s *Server) model(ctx *fasthttp.RequestCtx) {
	snap := s.current()
	proto := protocolOfListing(ctx)
	id, _ := ctx.UserValue("action").(string)
	id = strings.TrimPrefix(id, "models/")
	_, known := snap.aliases[id]
	if !known && wire.CheckModelName(id) == "" {
		_, _, known = snap.registry.ForModel([]byte(id))
	}
	if !known {
		writeError(ctx, proto, wire.ModelNotFound, "the model "+quote(capString([]byte(id), 200))+" does not exist or is not served by this proxy", "")
		return
	}
	ctx.SetContentType("application/json")
	switch proto {
	case wire.Gemini:
		ctx.SetBody(appendGeminiModel(nil, id))
	case wire.Anthropic:
		ctx.SetBody(appendAnthropicModel(nil, id))
	default:
		ctx.SetBody(mock.AppendModel(nil, "llmproxy", id))
	}
}

func appendAnthropicModels(b []byte, names []string) []byte {
	b = append(b, `{"data":[`...)
	for i, m := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAnthropicModel(b, m)
	}
	b = append(b, `],"has_more":false,"first_id":`...)
	if len(names) > 0 {
		b = wire.AppendJSONString(b, names[0])
		b = append(b, `,"last_id":`...)
		b = wire.AppendJSONString(b, names[len(names)-1])
	} else {
		b = append(b, `null,"last_id":null`...)
	}
	return append(b, '}')
}

// health answers GET /health without authentication: the overall status,
// each provider's state, its circuit breaker and its keys by label (never
// the keys themselves). The status is "degraded" while a breaker is not
// closed or a provider has no key in service.
func (s *Server) health(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.SetBody(s.Health())
}

// Health renders what /health answers (also the admin API's providers).
func (s *Server) Health() []byte {
	snap := s.current()
	status := "ok"
	b := make([]byte, 0, 512)
	b = append(b, `,"providers":[`...)
	for i, p := range snap.registry.All() {
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
		if up := snap.ups[p.Name()]; up != nil {
			b = append(b, `,"in_flight":`...)
			b = strconv.AppendInt(b, int64(up.sem.InUse()), 10)
			b = append(b, `,"queued":`...)
			b = strconv.AppendInt(b, int64(up.sem.Waiting()), 10)
			if up.br != nil {
				bs := up.br.Stats()
				if bs.State != breaker.Closed {
					status = "degraded"
				}
				b = append(b, `,"breaker":`...)
				b = appendJSON(b, bs)
			}
			if up.pool != nil {
				ks := up.pool.Snapshot()
				usable := 0
				for _, k := range ks {
					if k.State == keypool.Healthy || k.State == keypool.Unhealthy {
						usable++
					}
				}
				if usable == 0 {
					status = "degraded"
				}
				b = append(b, `,"key_states":`...)
				b = appendJSON(b, ks)
			}
		}
		if ap, ok := p.(interface{ Accounts() []accounts.Status }); ok {
			// Subscription accounts: expiry and why one cannot serve.
			b = append(b, `,"accounts":`...)
			b = appendJSON(b, ap.Accounts())
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if names := skippedNames(snap); len(names) > 0 {
		// Configured but not served: their api_keys are empty, or no
		// account is signed in yet.
		b = append(b, `,"skipped_providers":`...)
		b = appendJSON(b, names)
	}
	b = append(b, '}')
	out := append([]byte(`{"status":`), wire.AppendJSONString(nil, status)...)
	return append(out, b...)
}

// appendJSON renders a health detail with encoding/json: /health is not a
// hot path, and the keypool and breaker types carry their JSON names.
func appendJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// skippedNames lists the configured providers a snapshot skipped, sorted.
func skippedNames(snap *snapshot) []string {
	var out []string
	for i := range snap.cfg.Providers {
		if p := &snap.cfg.Providers[i]; snap.ups[p.Name] == nil {
			out = append(out, p.Name)
		}
	}
	return out
}
