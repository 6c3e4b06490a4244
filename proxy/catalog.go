package proxy

import (
	"github.com/llmproxy/proxy/providers/catalog"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/proxy/config"
)

// buildCatalogs gives every provider its model catalog: the built-in table,
// then the top-level overrides, then the provider's own.
func buildCatalogs(cfg *config.Config) map[string]*catalog.Catalog {
	base := catalog.Builtin().With(overrides(cfg.Catalog)...)
	out := make(map[string]*catalog.Catalog, len(cfg.Providers))
	for i := range cfg.Providers {
		pc := &cfg.Providers[i]
		out[pc.Name] = base.With(overrides(pc.Catalog)...)
	}
	return out
}

func overrides(list []config.ModelInfo) []catalog.Override {
	out := make([]catalog.Override, len(list))
	for i, m := range list {
		out[i] = catalog.Override{
			Name: m.Model, ContextWindow: m.ContextWindow, MaxOutput: m.MaxOutputTokens,
			Reasoning: m.Reasoning, Input: m.Input,
			Price: catalog.Price{Input: m.Price.Input, Output: m.Price.Output, CachedInput: m.Price.CachedInput},
		}
	}
	return out
}

// target is what a conversion may assume of the routed upstream model.
func (snap *snapshot) target(r routed) convert.Target {
	m, ok := snap.catalogs[r.provider.Name()].Lookup(r.model)
	if !ok {
		return convert.Target{}
	}
	return convert.Target{Known: true, MaxOutput: m.MaxOutput, Reasoning: m.Reasoning}
}
