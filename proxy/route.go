package proxy

import (
	"bytes"
	"strings"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// HeaderModelProvider forces a provider by name.
const HeaderModelProvider = "Model-Provider"

// routed is the routing decision for one request.
type routed struct {
	provider providers.Provider
	// model is the upstream model name.
	model string
	// rewrite is set when model differs from what the client's body says.
	rewrite bool
}

// route picks the provider and upstream model for model, within what the
// client may use.
func (snap *snapshot) route(ctx *fasthttp.RequestCtx, model []byte) (routed, wire.Kind, string) {
	r, kind, msg := snap.routeModel(ctx, model)
	if msg == "" {
		if c := clientOf(ctx); !c.allowsProvider(r.provider.Name()) {
			return routed{}, wire.Permission, "the model " + quote(string(model)) + " is served by provider " +
				quote(r.provider.Name()) + ", which key " + quote(c.name) + " may not use"
		}
	}
	return r, kind, msg
}

func (snap *snapshot) routeModel(ctx *fasthttp.RequestCtx, model []byte) (routed, wire.Kind, string) {
	if msg := wire.CheckModelName(b2s(model)); msg != "" {
		return routed{}, wire.InvalidRequest, msg
	}
	if c := clientOf(ctx); !c.allows(model) {
		return routed{}, wire.Permission, "the model " + quote(string(model)) + " is not allowed for client " + quote(c.name)
	}
	if target, ok := snap.aliases[string(model)]; ok {
		return snap.routeAlias(target)
	}
	forced, _ := ctx.UserValue("provider").(string)
	if forced == "" {
		if h := ctx.Request.Header.Peek(HeaderModelProvider); len(h) > 0 {
			forced = string(h)
		}
	}
	rewrite := false
	if i := bytes.IndexByte(model, ':'); i > 0 && (forced == "" || forced == string(model[:i])) {
		// Model names may contain ':' themselves (ft:..., llama3:8b): only a
		// prefix naming a configured provider (the forced one, if any) is a provider.
		if _, ok := snap.registry.ByName(string(model[:i])); ok {
			forced, model, rewrite = string(model[:i]), model[i+1:], true
		}
	}
	if forced != "" {
		p, ok := snap.registry.ByName(forced)
		if !ok {
			return routed{}, wire.NotFound, "unknown provider " + quote(forced)
		}
		if !providers.Serves(p, model) {
			return routed{}, wire.ModelNotFound, "the model " + quote(string(model)) + " is not served by provider " + quote(forced)
		}
		return routed{provider: p, model: string(model), rewrite: rewrite}, 0, ""
	}
	p, name, ok := snap.registry.ForModel(model)
	if !ok {
		if why, skipped := snap.skipped[string(model)]; skipped {
			return routed{}, wire.ModelNotFound, "the model " + quote(string(model)) + " is served only by provider " + why
		}
		return routed{}, wire.ModelNotFound, "the model " + quote(string(model)) + " does not exist or is not served by this proxy"
	}
	return routed{provider: p, model: name}, 0, ""
}

func quote(s string) string { return "'" + s + "'" }

// routeAlias routes a model alias to its target, "provider/model" or a
// model name routed as usual; the upstream gets the target's model name.
func (snap *snapshot) routeAlias(target string) (routed, wire.Kind, string) {
	if i := strings.IndexByte(target, '/'); i > 0 {
		if p, ok := snap.registry.ByName(target[:i]); ok {
			return routed{provider: p, model: target[i+1:], rewrite: true}, 0, ""
		}
	}
	p, name, ok := snap.registry.ForModel([]byte(target))
	if !ok {
		return routed{}, wire.ModelNotFound, "the alias target " + quote(target) + " is not served by this proxy"
	}
	return routed{provider: p, model: name, rewrite: true}, 0, ""
}
