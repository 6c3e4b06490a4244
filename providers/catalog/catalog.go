// Package catalog knows the limits and prices of well-known models: context
// window, largest answer, whether the model reasons (takes reasoning_effort,
// thinking budgets), what inputs it reads, and its list price. Conversions
// consult it to keep a request within what the target model accepts (a
// Claude Code request asking 32,000 output tokens and high effort, sent to
// gpt-4o-mini, would otherwise be refused upstream), and cost accounting
// prices usage with it.
//
// The built-in table is a snapshot of the vendors' published figures; an
// operator overrides or adds models in config, per proxy and per provider.
// A model the catalog does not know is passed on as the client asked.
package catalog

import "strings"

// Model is what the catalog knows of one model. Zero numbers mean unknown.
type Model struct {
	// Name is the canonical name the entry is listed under.
	Name string
	// ContextWindow is the most input plus output tokens one request may use.
	ContextWindow int
	// MaxOutput is the most tokens one answer may have (reasoning included).
	MaxOutput int
	// Reasoning: the model takes reasoning effort or a thinking budget.
	Reasoning bool
	// Input lists the modalities the model reads: text, image, audio,
	// video, pdf.
	Input []string
	// Price is the list price in US dollars per million tokens.
	Price Price
}

// Price is a model's list price in US dollars per million tokens.
type Price struct {
	Input, Output, CachedInput float64
}

// Reads reports whether the model takes input of the given modality.
func (m *Model) Reads(modality string) bool {
	for _, in := range m.Input {
		if in == modality {
			return true
		}
	}
	return false
}

// Catalog is a read-only table of models. Build one with New or Builtin and
// With; a *Catalog is safe for concurrent use.
type Catalog struct {
	byName map[string]Model
}

// New builds a catalog of the given models (later entries win).
func New(models ...Model) *Catalog {
	c := &Catalog{byName: make(map[string]Model, len(models))}
	for _, m := range models {
		c.byName[strings.ToLower(m.Name)] = m
	}
	return c
}

// Builtin is the catalog of well-known models.
func Builtin() *Catalog { return New(builtin...) }

// Override changes some fields of an entry: zero numbers, a nil Reasoning
// and an empty Input keep what the base catalog says.
type Override struct {
	Name          string
	ContextWindow int
	MaxOutput     int
	Reasoning     *bool
	Input         []string
	Price         Price
}

// With returns a copy of c with the overrides applied; a name c does not
// know (even under a dated or suffixed form) becomes a new entry.
func (c *Catalog) With(overrides ...Override) *Catalog {
	if len(overrides) == 0 {
		return c
	}
	out := &Catalog{byName: make(map[string]Model, len(c.byName)+len(overrides))}
	for k, v := range c.byName {
		out.byName[k] = v
	}
	for _, o := range overrides {
		m, ok := out.Lookup(o.Name)
		if !ok || !strings.EqualFold(m.Name, o.Name) {
			m = Model{Name: o.Name, Input: m.Input, ContextWindow: m.ContextWindow, MaxOutput: m.MaxOutput,
				Reasoning: m.Reasoning, Price: m.Price}
		}
		if o.ContextWindow > 0 {
			m.ContextWindow = o.ContextWindow
		}
		if o.MaxOutput > 0 {
			m.MaxOutput = o.MaxOutput
		}
		if o.Reasoning != nil {
			m.Reasoning = *o.Reasoning
		}
		if len(o.Input) > 0 {
			m.Input = o.Input
		}
		if o.Price.Input > 0 {
			m.Price.Input = o.Price.Input
		}
		if o.Price.Output > 0 {
			m.Price.Output = o.Price.Output
		}
		if o.Price.CachedInput > 0 {
			m.Price.CachedInput = o.Price.CachedInput
		}
		out.byName[strings.ToLower(o.Name)] = m
	}
	return out
}

// Lookup finds a model by the name a request uses: the exact name, or a
// listed name followed by a date or release suffix ("gpt-4o-2024-08-06",
// "claude-sonnet-4-5-20250929", "gemini-2.5-flash-preview-05-20",
// "claude-3-5-haiku@20241022", "models/gemini-2.5-pro"). The longest listed
// name wins, so "gpt-4o-mini-2024-07-18" is gpt-4o-mini, not gpt-4o.
func (c *Catalog) Lookup(name string) (Model, bool) {
	if c == nil {
		return Model{}, false
	}
	n := strings.ToLower(strings.TrimPrefix(name, "models/"))
	if m, ok := c.byName[n]; ok {
		return m, true
	}
	for end := len(n) - 1; end > 0; end-- {
		if n[end] != '-' && n[end] != '@' {
			continue
		}
		if !isReleaseSuffix(n[end+1:]) {
			continue
		}
		if m, ok := c.byName[n[:end]]; ok {
			return m, true
		}
	}
	return Model{}, false
}

// isReleaseSuffix reports whether s names a release of a model rather than
// another model: a date (20250514, 2024-08-06, 05-20), "latest", or a
// preview/experimental tag. A bare small number ("5" in claude-sonnet-4-5)
// is a different model, not a release.
func isReleaseSuffix(s string) bool {
	switch {
	case s == "latest":
		return true
	case strings.HasPrefix(s, "preview"), strings.HasPrefix(s, "exp"):
		return true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '-':
		default:
			return false
		}
	}
	return digits >= 4
}
