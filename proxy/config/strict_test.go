package config

import (
	"errors"
	"strings"
	"testing"
)

// TestMistakesAreErrors: a misspelt key, a misspelt variable, a duration
// without a unit, an empty key override, the example key next to a real
// provider and a public pprof listener are refused with the key path and,
// for typos, the key that was meant.
func TestMistakesAreErrors(t *testing.T) {
	real := "providers:\n  - {name: openai, type: openai, base_url: \"https://api.openai.com/v1\", api_keys: [sk-x], models: [m]}\n"
	tests := []struct {
		name, yaml string
		env        []string
		args       []string
		key, want  string // "" key: must load
	}{
		{name: "typo in server", yaml: "server: {prot: 3917}\n", key: "server.prot", want: `did you mean "server.port"`},
		{name: "wrong section", yaml: "logging: {level: debug}\n", key: "logging", want: `did you mean "log"`},
		{name: "typo in a provider", yaml: "providers:\n  - {name: m, type: mock, models: [m], modles: [x]}\n", key: "providers[0].modles", want: `did you mean "providers[0].models"`},
		{name: "typo in nested", yaml: "providers:\n  - {name: m, type: mock, models: [m], breaker: {open_fro: 1s}}\n", key: "providers[0].breaker.open_fro", want: "open_for"},
		{name: "typo in env", env: []string{"PROXY_SERVER_PROT=3917"}, key: "PROXY_SERVER_PROT", want: "did you mean PROXY_SERVER_PORT?"},
		{name: "bare duration", yaml: "server: {shutdown_grace: 30}\n", key: "server.shutdown_grace", want: "needs a unit"},
		{name: "bare provider duration", yaml: "providers:\n  - {name: m, type: mock, models: [m], first_byte_timeout: 5}\n", key: "providers[0].first_byte_timeout", want: "needs a unit"},
		{name: "empty env override", yaml: "server: {api_keys: [file-key]}\n", env: []string{"PROXY_SERVER_API_KEYS="}, key: "server.api_keys", want: "server.auth: off"},
		{name: "empty flag override", yaml: "server: {api_keys: [file-key]}\n", args: []string{"--api-keys", ""}, key: "server.api_keys", want: "server.auth: off"},
		{name: "auth off said", yaml: "server: {api_keys: [], auth: off}\n"},
		{name: "example key with a real provider", yaml: real, key: "server.api_keys", want: "example client key"},
		{name: "own key with a real provider", yaml: "server: {api_keys: [mine-123]}\n" + real},
		{name: "example key with the mock", yaml: "providers:\n  - {name: m, type: mock, models: [m]}\n"},
		{name: "public pprof", yaml: "server: {admin_addr: \"0.0.0.0:6060\"}\n", key: "server.admin_addr", want: "loopback"},
		{name: "loopback pprof", yaml: "server: {admin_addr: \"127.0.0.1:6060\"}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := Source{Path: writeFile(t, tc.yaml), Required: true, Environ: tc.env}
			if tc.args != nil {
				src.Flags = flags(t, tc.args...)
			}
			_, err := Load(src)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load returned %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Key == tc.key && strings.Contains(p.Message, tc.want) {
					return
				}
			}
			t.Fatalf("no problem at %s saying %q: %v", tc.key, tc.want, err)
		})
	}
}
