package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// writeFile writes a YAML configuration into a temporary directory.
func writeFile(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flags returns a registered, parsed flag set.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("config", "", "")
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestPrecedence checks defaults < file < environment < flags, one layer at
// a time, for scalars, lists and durations.
func TestPrecedence(t *testing.T) {
	file := `
server:
  port: 4000
  api_keys: [file-key]
  stream_heartbeat: 3s
log:
  level: warn
`
	tests := []struct {
		name      string
		file      string
		env       []string
		args      []string
		noFlags   bool
		port      int
		keys      []string
		level     string
		heartbeat time.Duration
		maxBody   int
	}{
		{name: "defaults", noFlags: true, port: 3000, keys: []string{"123456"}, level: "info", heartbeat: 500 * time.Millisecond, maxBody: 10 << 20},
		{name: "file", file: file, noFlags: true, port: 4000, keys: []string{"file-key"}, level: "warn", heartbeat: 3 * time.Second, maxBody: 10 << 20},
		{name: "env-over-file", file: file, noFlags: true,
			env:  []string{"PROXY_SERVER_PORT=5000", "PROXY_SERVER_API_KEYS=env-a, env-b", "PROXY_SERVER_STREAM_HEARTBEAT=2s", "PROXY_SERVER_MAX_BODY_BYTES=1234", "OTHER=2"},
			port: 5000, keys: []string{"env-a", "env-b"}, level: "warn", heartbeat: 2 * time.Second, maxBody: 1234},
		{name: "env-over-defaults", env: []string{"PROXY_LOG_LEVEL=debug"}, noFlags: true, port: 3000, keys: []string{"123456"}, level: "debug", heartbeat: 500 * time.Millisecond, maxBody: 10 << 20},
		{name: "flags-over-env", file: file,
			env:  []string{"PROXY_SERVER_PORT=5000", "PROXY_LOG_LEVEL=debug", "PROXY_SERVER_API_KEYS=env-a"},
			args: []string{"--port", "6000", "--api-keys", "flag-a,flag-b", "--max-body-bytes", "999"},
			port: 6000, keys: []string{"flag-a", "flag-b"}, level: "debug", heartbeat: 3 * time.Second, maxBody: 999},
		{name: "unset-flags-keep-env", file: file,
			env:  []string{"PROXY_SERVER_PORT=5000"},
			port: 5000, keys: []string{"file-key"}, level: "warn", heartbeat: 3 * time.Second, maxBody: 10 << 20},
		{name: "non-config-flag-ignored", file: file, args: []string{"--config", "elsewhere.yaml"},
			port: 4000, keys: []string{"file-key"}, level: "warn", heartbeat: 3 * time.Second, maxBody: 10 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := Source{Environ: tc.env}
			if tc.file != "" {
				src.Path, src.Required = writeFile(t, tc.file), true
			}
			if !tc.noFlags {
				src.Flags = flags(t, tc.args...)
			}
			c, err := Load(src)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Server.Port != tc.port || !slices.Equal(c.Server.APIKeys, tc.keys) || c.Log.Level != tc.level ||
				c.Server.StreamHeartbeat != tc.heartbeat || c.Server.MaxBodyBytes != tc.maxBody {
				t.Fatalf("got port %d keys %q level %q heartbeat %s max_body %d; want %d %q %q %s %d",
					c.Server.Port, c.Server.APIKeys, c.Log.Level, c.Server.StreamHeartbeat, c.Server.MaxBodyBytes,
					tc.port, tc.keys, tc.level, tc.heartbeat, tc.maxBody)
			}
			if len(c.Providers) != 1 || c.Providers[0].Type != TypeMock {
				t.Fatalf("a file without providers keeps the default mock provider, got %+v", c.Providers)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.yaml")
	if _, err := Load(Source{Path: missing}); err != nil {
		t.Fatalf("an optional missing file is not an error: %v", err)
	}
	if _, err := Load(Source{Path: missing, Required: true}); err == nil {
		t.Fatal("a required missing file loaded")
	}
	if _, err := Load(Source{Path: writeFile(t, "server: [unclosed\n"), Required: true}); err == nil {
		t.Fatal("malformed YAML loaded")
	}
}

// TestExpansion checks ${VAR} and ${VAR:-default} references in a file.
func TestExpansion(t *testing.T) {
	file := `
server:
  host: ${HOST:-127.0.0.1}
  api_keys: ["${CLIENT_KEY}", "k-${A}-${B}-end", "$NOT_BRACED", "${EMPTY:-fallback}"]
providers:
  - name: ${NAME:-up}
    type: openai
    base_url: ${UP_URL:-http://127.0.0.1:9999/v1}
    api_keys: ["${UP_KEY}", "${UNSET_KEY}"]
    models: ["${MODEL}", "fixed"]
`
	env := []string{"CLIENT_KEY=ck", "A=1", "B=2", "EMPTY=", "UP_KEY=sk-up", "MODEL=gpt-x", "HOST=0.0.0.0", "NOT_BRACED=x"}
	c, err := Load(Source{Path: writeFile(t, file), Required: true, Environ: env})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := []string{"ck", "k-1-2-end", "$NOT_BRACED", "fallback"}; !slices.Equal(c.Server.APIKeys, want) {
		t.Fatalf("server.api_keys %q, want %q", c.Server.APIKeys, want)
	}
	if c.Server.Host != "0.0.0.0" {
		t.Fatalf("server.host %q", c.Server.Host)
	}
	p := c.Providers[0]
	if p.Name != "up" || p.BaseURL != "http://127.0.0.1:9999/v1" || !slices.Equal(p.APIKeys, []string{"sk-up", ""}) ||
		!slices.Equal(p.Models, []string{"gpt-x", "fixed"}) {
		t.Fatalf("provider %+v", p)
	}
	if !p.HasKeys() {
		t.Fatal("provider with one set key reports none")
	}
}

func TestExpand(t *testing.T) {
	env := envLookup([]string{"SET=v", "EMPTY=", "X=a:-b"})
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"${SET}", "v"},
		{"${UNSET}", ""},
		{"${UNSET:-d}", "d"},
		{"${EMPTY}", ""},
		{"${EMPTY:-d}", "d"},
		{"${SET:-d}", "v"},
		{"${X}", "a:-b"},
		{"a${SET}b${SET}c", "avbvc"},
		{"$SET", "$SET"},
		{"${SET", "${SET"},
		{"${UNSET:-}", ""},
		{"${UNSET:-http://h:1/v1}", "http://h:1/v1"},
	}
	for _, tc := range tests {
		if got := expand(tc.in, env); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestValidation checks that each invalid setting is reported under its key
// path, all of them at once.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		keys []string
	}{
		{name: "duplicate-names", yaml: `
providers:
  - {name: a, type: mock, models: [m]}
  - {name: a, type: mock, models: [n]}
`, keys: []string{"providers[1].name"}},
		{name: "bad-type", yaml: `
providers:
  - {name: a, type: chatgpt, models: [m]}
`, keys: []string{"providers[0].type"}},
		{name: "missing-type", yaml: `
providers:
  - {name: a, models: [m]}
`, keys: []string{"providers[0].type"}},
		{name: "bad-base-url", yaml: `
server: {api_keys: [own-key]}
providers:
  - {name: a, type: openai, base_url: "ftp://example.com/v1", api_keys: [k], models: [m]}
  - {name: b, type: claude, base_url: "not a url", api_keys: [k], models: [m]}
`, keys: []string{"providers[0].base_url", "providers[1].base_url"}},
		{name: "no-models", yaml: `
server: {api_keys: [own-key]}
providers:
  - {name: a, type: openai, api_keys: [k]}
  - {name: b, type: mock, models: [""]}
`, keys: []string{"providers[0].models", "providers[1].models[0]"}},
		{name: "bad-log-level", yaml: `
log: {level: verbose, format: xml}
`, keys: []string{"log.level", "log.format"}},
		{name: "bad-names", yaml: `
providers:
  - {name: "a:b", type: mock, models: [m]}
  - {name: v1, type: mock, models: [m]}
  - {type: mock, models: [m]}
`, keys: []string{"providers[0].name", "providers[1].name", "providers[2].name"}},
		{name: "server", yaml: `
server: {port: 70000, max_body_bytes: 0, max_event_bytes: 10, stream_heartbeat: -1s, api_keys: ["${UNSET}"]}
`, keys: []string{"server.port", "server.max_body_bytes", "server.max_event_bytes", "server.stream_heartbeat", "server.api_keys[0]", "server.api_keys"}},
		{name: "negative-timeouts", yaml: `
server: {api_keys: [own-key]}
providers:
  - {name: a, type: openai, api_keys: [k], models: [m], first_byte_timeout: -1s, max_conns: -1}
`, keys: []string{"providers[0].first_byte_timeout", "providers[0].max_conns"}},
		{name: "store", yaml: `
server: {auth: "off", api_keys: []}
store: {enabled: true, driver: mysql, dsn: "", usage_queue: 0, limits_fail: maybe, budgets_fail: never, usage_retention: -1h}
admin: {key: short, password_hash: plaintext, session_ttl: 0s}
`, keys: []string{"store.enabled", "store.driver", "store.dsn", "store", "store.limits_fail", "store.budgets_fail",
			"store.usage_retention", "admin.key", "admin.password_hash", "admin.session_ttl"}},
		{name: "env-makes-it-bad", env: []string{"PROXY_LOG_LEVEL=loud"}, yaml: `
log: {level: info}
`, keys: []string{"log.level"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{Path: writeFile(t, tc.yaml), Required: true, Environ: tc.env})
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load returned %v, want Problems", err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Key)
				if p.Message == "" {
					t.Errorf("problem %s has no message", p.Key)
				}
			}
			want := slices.Clone(tc.keys)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("problems at %q, want %q\n%v", got, tc.keys, err)
			}
			for _, k := range tc.keys {
				if !strings.Contains(err.Error(), k+": ") {
					t.Fatalf("error text lacks %q: %v", k, err)
				}
			}
		})
	}
}

// TestProviderDefaults checks the values a provider gets when the file
// leaves them out.
func TestProviderDefaults(t *testing.T) {
	c, err := Load(Source{Path: writeFile(t, `
server: {api_keys: [own-key]}
providers:
  - {name: o, type: openai, api_keys: [k], models: ["*"]}
  - {name: c, type: claude, api_keys: [k], models: [m], first_byte_timeout: 5s}
  - {name: g, type: gemini, api_keys: [k], models: [m]}
  - {name: m, type: mock, models: [m]}
`), Required: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		base      string
		firstByte time.Duration
	}{
		{"https://api.openai.com/v1", 300 * time.Second},
		{"https://api.anthropic.com/v1", 5 * time.Second},
		{"https://generativelanguage.googleapis.com/v1beta", 300 * time.Second},
		{"", 300 * time.Second},
	}
	for i, p := range c.Providers {
		if p.BaseURL != want[i].base || p.FirstByteTimeout != want[i].firstByte || p.MaxConns != 1024 || p.PoolWait != 5*time.Second {
			t.Errorf("providers[%d] = %+v", i, p)
		}
	}
	if c.Providers[3].Mock.Tokens != 20 {
		t.Errorf("mock tokens default %d", c.Providers[3].Mock.Tokens)
	}
}
