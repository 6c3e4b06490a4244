package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	t.Setenv("CHECKCONFIG_TEST_KEY", "sk-test")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{
			name: "good",
			args: []string{"check-config", write("good.yaml", `
server: {port: 8080, api_keys: [client]}
providers:
  - {name: local, type: mock, models: [mock-gpt]}
  - {name: up, type: openai, base_url: "http://127.0.0.1:9001/v1", api_keys: ["${CHECKCONFIG_TEST_KEY}"], models: ["*"]}
`)},
			code:     0,
			contains: []string{"OK (2 providers)"},
		},
		{
			name: "good-with-skipped-provider",
			args: []string{"check-config", write("skipped.yaml", `
providers:
  - {name: local, type: mock, models: [mock-gpt]}
  - {name: up, type: openai, api_keys: ["${CHECKCONFIG_TEST_UNSET}"], models: [m]}
`)},
			code:     0,
			contains: []string{"warning: provider up", "OK (2 providers)"},
		},
		{
			name: "bad",
			args: []string{"check-config", write("bad.yaml", `
server: {api_keys: [own-key]}
log: {level: loud}
providers:
  - {name: a, type: openai, base_url: "ftp://x", api_keys: [k], models: [m]}
  - {name: a, type: weird}
`)},
			code: 1,
			contains: []string{"5 problem(s)", "log.level: ", "providers[0].base_url: ", "providers[1].name: ",
				"providers[1].type: ", "providers[1].models: "},
		},
		{name: "malformed-yaml", args: []string{"check-config", write("broken.yaml", "providers: [\n")}, code: 1},
		{name: "missing-file", args: []string{"check-config", filepath.Join(dir, "absent.yaml")}, code: 1, contains: []string{"absent.yaml"}},
		{name: "no-file-argument", args: []string{"check-config"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			all := out.String() + errOut.String()
			for _, s := range tc.contains {
				if !strings.Contains(all, s) {
					t.Errorf("output lacks %q:\n%s", s, all)
				}
			}
		})
	}
}
