package providers

import (
	"slices"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// fake is a Provider that only names itself and its models.
type fake struct {
	name   string
	models []string
}

func (f fake) Name() string              { return f.name }
func (f fake) Protocol() wire.Protocol   { return wire.OpenAIChat }
func (f fake) Models() []string          { return f.models }
func (f fake) Do(*Call) (*Result, error) { return nil, nil }
func (f fake) State() State              { return State{Status: "up"} }

func TestRegistry(t *testing.T) {
	a := fake{"a", []string{"m1", "shared"}}
	b := fake{"b", []string{"shared", "m2", "*"}}
	c := fake{"c", []string{"*"}}
	r := NewRegistry([]Provider{a, b, c})
	tests := []struct {
		model    string
		provider string
		ok       bool
	}{
		{"m1", "a", true},
		{"shared", "a", true}, // the first listed provider wins
		{"m2", "b", true},
		{"unlisted", "b", true}, // the first wildcard provider
		{"", "b", true},
	}
	for _, tc := range tests {
		p, name, ok := r.ForModel([]byte(tc.model))
		if ok != tc.ok || p == nil || p.Name() != tc.provider || name != tc.model {
			t.Errorf("ForModel(%q) = %v %q %v, want %s", tc.model, p, name, ok, tc.provider)
		}
	}
	if _, _, ok := NewRegistry([]Provider{a}).ForModel([]byte("m2")); ok {
		t.Error("a model nobody serves was routed")
	}
	if got := r.Models(); !slices.Equal(got, []string{"m1", "shared", "m2"}) {
		t.Errorf("Models() = %q", got)
	}
	if p, ok := r.ByName("c"); !ok || p.Name() != "c" {
		t.Error("ByName(c)")
	}
	if _, ok := r.ByName("d"); ok {
		t.Error("ByName(d) found a provider")
	}
	if !Serves(a, []byte("m1")) || Serves(a, []byte("m2")) || !Serves(c, []byte("anything")) {
		t.Error("Serves")
	}
	if got := len(r.All()); got != 3 {
		t.Errorf("All() has %d providers", got)
	}
}

// TestForModelAllocs guards the routing lookup of a listed model: it must
// not allocate (the model name returned is the configured string).
func TestForModelAllocs(t *testing.T) {
	r := NewRegistry([]Provider{fake{"a", []string{"gpt-4o-mini", "m"}}})
	model := []byte("gpt-4o-mini")
	if n := testing.AllocsPerRun(100, func() { r.ForModel(model) }); n != 0 {
		t.Fatalf("ForModel of a listed model: %.0f allocs", n)
	}
}

func TestResultRelease(t *testing.T) {
	n := 0
	res := NewResult(func() { n++ })
	if res.StreamLength != -1 {
		t.Fatalf("StreamLength %d, want -1", res.StreamLength)
	}
	res.Release()
	res.Release()
	if n != 1 {
		t.Fatalf("release ran %d times, want once", n)
	}
	NewResult(nil).Release()
}
