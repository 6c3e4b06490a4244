package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestShippedStoreExample loads the commented virtual keys example of the
// repository's config.yaml, uncommented, so that it stays valid.
func TestShippedStoreExample(t *testing.T) {
	b, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "\n# add `admin_addr: 127.0.0.1:9090` under server: above.\n# admin:")
	if !ok {
		t.Fatal("config.yaml has no commented admin/store example")
	}
	var yaml strings.Builder
	yaml.WriteString("providers:\n  - {name: openai, type: mock, models: [gpt-4o-mini]}\nserver:\n  admin_addr: 127.0.0.1:9090\nadmin:")
	for i, line := range strings.Split(block, "\n") {
		if i > 0 && !strings.HasPrefix(line, "# ") {
			break
		}
		if i > 0 {
			line = strings.TrimPrefix(line, "# ")
		}
		yaml.WriteString(line + "\n")
	}
	cfg, err := Load(Source{Path: writeFile(t, yaml.String()), Required: true, Environ: []string{"PROXY_ADMIN_KEY=0123456789abcdef0123"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml.String())
	}
	st := cfg.Store
	if !st.Enabled || st.Driver != "sqlite" || st.LimitsFail != "open" || st.BudgetsFail != "closed" ||
		st.UsageRetention != 2160*time.Hour || cfg.Server.AdminAddr != "127.0.0.1:9090" || cfg.Admin.Key != "0123456789abcdef0123" {
		t.Fatalf("store %+v admin %+v\n%s", st, cfg.Admin, yaml.String())
	}
}
