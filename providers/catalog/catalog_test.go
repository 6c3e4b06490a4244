package catalog

import "testing"

func TestLookup(t *testing.T) {
	c := Builtin()
	for _, tc := range []struct {
		name, want string
	}{
		{"gpt-4o", "gpt-4o"},
		{"GPT-4o", "gpt-4o"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"o3-mini-2025-01-31", "o3-mini"},
		{"claude-sonnet-4-20250514", "claude-sonnet-4"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-3-5-haiku@20241022", "claude-3-5-haiku"},
		{"claude-3-5-sonnet-latest", "claude-3-5-sonnet"},
		{"gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"},
		{"models/gemini-2.5-pro", "gemini-2.5-pro"},
		{"gemini-2.0-flash-exp", "gemini-2.0-flash"},
		// Other models, not releases of a listed one.
		{"claude-sonnet-4-6", ""},
		{"gpt-4o-audio-preview", ""},
		{"o3-pro", ""},
		{"my-local-llama", ""},
		{"", ""},
	} {
		m, ok := c.Lookup(tc.name)
		if got := m.Name; ok != (tc.want != "") || got != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

func TestBuiltinIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range builtin {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.ContextWindow <= 0 || m.MaxOutput <= 0 || m.MaxOutput > m.ContextWindow {
			t.Errorf("%s: context %d, max output %d", m.Name, m.ContextWindow, m.MaxOutput)
		}
		if m.Price.Input <= 0 || m.Price.Output < m.Price.Input || m.Price.CachedInput > m.Price.Input {
			t.Errorf("%s: price %+v (output should cost at least input, cached at most input)", m.Name, m.Price)
		}
		if !m.Reads("text") {
			t.Errorf("%s reads no text", m.Name)
		}
	}
}

func TestWithOverrides(t *testing.T) {
	no, yes := false, true
	c := Builtin().With(
		Override{Name: "gpt-4o-mini", MaxOutput: 8000},
		Override{Name: "gpt-4o-mini-2024-07-18", Reasoning: &yes},
		Override{Name: "o3", Reasoning: &no, Price: Price{Output: 9}},
		Override{Name: "local-qwen", ContextWindow: 32768, MaxOutput: 8192},
	)
	if m, _ := c.Lookup("gpt-4o-mini"); m.MaxOutput != 8000 || m.ContextWindow != 128000 || m.Reasoning {
		t.Errorf("gpt-4o-mini = %+v", m)
	}
	// A dated name gets its own entry, starting from its family's figures.
	if m, _ := c.Lookup("gpt-4o-mini-2024-07-18"); !m.Reasoning || m.MaxOutput != 8000 || m.Price.Input != 0.15 {
		t.Errorf("dated override = %+v", m)
	}
	if m, _ := c.Lookup("o3"); m.Reasoning || m.Price.Output != 9 || m.Price.Input != 2 {
		t.Errorf("o3 = %+v", m)
	}
	if m, ok := c.Lookup("local-qwen"); !ok || m.MaxOutput != 8192 {
		t.Errorf("added model = %+v %v", m, ok)
	}
	// The base is untouched.
	if m, _ := Builtin().Lookup("gpt-4o-mini"); m.MaxOutput != 16384 {
		t.Errorf("override leaked into the built-in table: %+v", m)
	}
}
