package metrics

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fullSet has a series in every family the package exports.
func fullSet() *Set {
	s := newTestSet()
	s.SetClients([]string{"alice"})
	s.ObserveRequest("openai", "openai-main", "gpt-4o", 200, 300*time.Millisecond, 299*time.Millisecond, 120, 4000)
	s.ObserveTTFT("openai", "openai-main", "gpt-4o", 100*time.Millisecond)
	s.AddTokens("openai-main", "gpt-4o", 10, 20)
	s.StreamStarted()
	s.Retry("openai-main")
	s.Cooldown("openai-main")
	s.SetBreakerState("openai-main", 2)
	s.Failover("openai-main", "anthropic")
	s.ClientRequest("alice", 200)
	s.RegisterPoolGauges("openai-main", func() float64 { return 1 }, func() float64 { return 0 })
	s.RegisterKeyStates("openai-main", []string{"healthy", "cooldown"}, func(string) float64 { return 1 })
	s.CacheLookup("openai-main", "gpt-4o", CacheHit)
	s.RegisterCacheStats(func() CacheStats { return CacheStats{Entries: 1, Bytes: 300} })
	s.RegisterTenants(func() float64 { return 7 }, func() float64 { return 1 }, func() float64 { return 0 })
	return s
}

// TestEveryFamilyHasMetadata: each proxy_ family is preceded by its HELP
// (with a text) and TYPE lines, once.
func TestEveryFamilyHasMetadata(t *testing.T) {
	var buf bytes.Buffer
	fullSet().WritePrometheus(&buf)
	help, typ := map[string]int{}, map[string]int{}
	for _, line := range strings.Split(buf.String(), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 4 && f[1] == "HELP":
			help[f[2]]++
		case len(f) == 4 && f[1] == "TYPE":
			typ[f[2]]++
		case len(f) > 0 && strings.HasPrefix(f[0], "proxy_"):
			name := f[0]
			if i := strings.IndexByte(name, '{'); i >= 0 {
				name = name[:i]
			}
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(name, suffix); base != name && typ[base] > 0 {
					name = base
				}
			}
			if help[name] != 1 || typ[name] != 1 {
				t.Errorf("family %s: %d HELP and %d TYPE lines before its samples", name, help[name], typ[name])
			}
		}
	}
	if len(typ) < len(families)+4 {
		t.Fatalf("only %d typed families:\n%s", len(typ), buf.String())
	}
}

// TestPromtoolFindsNothing runs Prometheus' own linter on the exposition.
func TestPromtoolFindsNothing(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/promtool"); serr != nil {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		promtool = "/usr/bin/promtool"
	}
	var buf bytes.Buffer
	fullSet().WritePrometheus(&buf)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "proxy_") {
			t.Errorf("promtool: %s", line)
		}
	}
	if err != nil && t.Failed() {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
