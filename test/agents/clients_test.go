//go:build agents

package agents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmproxy/proxy/providers/mock"
)

// client is one agent CLI: how to point it at a base URL and ask it one
// prompt non-interactively, and which of its own tools the tool loop calls.
type client struct {
	name string
	// bin is the command under the install prefix's node_modules/.bin.
	bin string
	// setup writes the CLI's configuration under home and returns its
	// environment for a proxy at base (scheme://host:port).
	setup func(t *testing.T, home, base, key string) []string
	// args runs prompt non-interactively.
	args func(prompt string) []string
	// toolMarker asks the mock to call the CLI's file-reading tool on
	// path, a file in the work directory named rel.
	toolMarker func(path, rel string) string
}

// The settings each CLI needs to stay on loopback and quiet; none changes
// its default model, tools or request shape. Where a CLI retries for
// minutes by default, its retries are cut so that a failing pair fails
// within the run's timeout instead of hiding behind it.
var clients = []client{
	{
		name: "claude",
		bin:  "claude",
		setup: func(t *testing.T, home, base, key string) []string {
			return []string{
				"ANTHROPIC_BASE_URL=" + base,
				"ANTHROPIC_API_KEY=" + key,
				"DISABLE_TELEMETRY=1",
				"DISABLE_AUTOUPDATER=1",
				"DISABLE_ERROR_REPORTING=1",
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
				"CLAUDE_CODE_MAX_RETRIES=0",
			}
		},
		args: func(prompt string) []string { return []string{"-p", prompt} },
		toolMarker: func(path, _ string) string {
			return marker("Read", map[string]string{"file_path": path})
		},
	},
	{
		name: "codex",
		bin:  "codex",
		setup: func(t *testing.T, home, base, key string) []string {
			// At every start the curated-plugins sync clones a repository
			// from the internet and analytics resolve their host: both off.
			writeFile(t, filepath.Join(home, ".codex", "config.toml"), `model_provider = "proxy"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false

[model_providers.proxy]
name = "proxy"
base_url = "`+base+`/v1"
env_key = "PROXY_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`)
			return []string{"PROXY_API_KEY=" + key}
		},
		args: func(prompt string) []string {
			return []string{"exec", "--skip-git-repo-check", prompt}
		},
		// Codex runs commands from its custom "exec" tool, which takes
		// JavaScript calling its nested tools.
		toolMarker: func(_, rel string) string {
			return marker("exec", map[string]string{
				"input": `const r = await tools.exec_command({cmd: "cat ` + rel + `"}); text(r);`,
			})
		},
	},
	{
		name: "gemini",
		bin:  "gemini",
		setup: func(t *testing.T, home, base, key string) []string {
			writeFile(t, filepath.Join(home, ".gemini", "settings.json"), `{
  "general": {"disableAutoUpdate": true, "disableUpdateNag": true},
  "privacy": {"usageStatisticsEnabled": false},
  "telemetry": {"enabled": false},
  "security": {"auth": {"selectedType": "gemini-api-key"}}
}
`)
			return []string{
				"GOOGLE_GEMINI_BASE_URL=" + base,
				"GEMINI_API_KEY=" + key,
				"GEMINI_CLI_TRUST_WORKSPACE=true",
			}
		},
		args: func(prompt string) []string { return []string{"-p", prompt} },
		toolMarker: func(path, _ string) string {
			return marker("read_file", map[string]string{"file_path": path})
		},
	},
}

// marker is the mock's call marker (mock.CallMarker) with args as JSON.
func marker(name string, args map[string]string) string {
	b, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	return mock.CallMarker(name, string(b))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
