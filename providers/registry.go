package providers

// Registry picks providers by name and by model.
type Registry struct {
	list   []Provider
	byName map[string]Provider
	// byModel maps each explicitly listed model to its first provider.
	byModel map[string]modelEntry
	// wildcard holds providers that serve any model, in config order.
	wildcard []Provider
}

// NewRegistry indexes providers in the order given: for a model served by
// several, the first wins.
func NewRegistry(list []Provider) *Registry {
	r := &Registry{list: list, byName: map[string]Provider{}, byModel: map[string]modelEntry{}}
	for _, p := range list {
		r.byName[p.Name()] = p
		for _, m := range p.Models() {
			if m == "*" {
				r.wildcard = append(r.wildcard, p)
				continue
			}
			if _, ok := r.byModel[m]; !ok {
				r.byModel[m] = modelEntry{p, m}
			}
		}
	}
	return r
}

// All returns the providers in config order.
func (r *Registry) All() []Provider { return r.list }

// ByName returns the provider called name.
func (r *Registry) ByName(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

type modelEntry struct {
	p    Provider
	name string
}

// ForModel returns the first provider that serves model, and the model name
// as a string: the configured one when listed (no allocation), else a copy.
func (r *Registry) ForModel(model []byte) (Provider, string, bool) {
	if e, ok := r.byModel[string(model)]; ok {
		return e.p, e.name, true
	}
	if len(r.wildcard) > 0 {
		return r.wildcard[0], string(model), true
	}
	return nil, "", false
}

// Models lists every configured model name once, in config order ("*" left out).
func (r *Registry) Models() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range r.list {
		for _, m := range p.Models() {
			if m != "*" && !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Serves reports whether provider p serves model.
func Serves(p Provider, model []byte) bool {
	for _, m := range p.Models() {
		if m == "*" || m == string(model) {
			return true
		}
	}
	return false
}
