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

func TestCheckConfigReadsCodexCredentials(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(creds, "good.json"), []byte(`{"access_token":"a","refresh_token":"r","expires_at":"2030-01-01T00:00:00Z"}`), 0o644)
	_ = os.WriteFile(filepath.Join(creds, "torn.json"), []byte(`{"access_to`), 0o600)
	cfg := filepath.Join(dir, "c.yaml")
	_ = os.WriteFile(cfg, []byte("server: {auth: \"off\"}\nproviders:\n  - {name: chatgpt, type: codex, credentials: "+creds+", models: [gpt-5.1-codex]}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"check-config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"torn.json", "good.json is readable by other users"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"accounts", "--config", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "good.json") {
		t.Fatalf("accounts: %d %s %s", code, out.String(), errb.String())
	}
}
