package proxy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// TestConfigJSONMasksSecrets: the running configuration the admin API and
// the console show names every setting but no secret of any kind (client
// and provider keys, admin key and password hash, OAuth client secret,
// upstream header values, passwords in URLs and DSNs, the cache's Redis
// password), each replaced by "***" so an operator sees it is set.
func TestConfigJSONMasksSecrets(t *testing.T) {
	secrets := map[string]string{
		"server key":         "srv-key-0001",
		"client key":         "cli-key-0002",
		"provider key":       "sk-prov-0003",
		"oauth secret":       "oauth-secret-0004",
		"header value":       "Bearer hdr-0005",
		"base url password":  "urlpw0006",
		"fallback password":  "fbpw0007",
		"admin key":          "admin-key-0008",
		"password hash":      "$2a$12$hash0009",
		"store dsn password": "dsnpw0010",
		"store redis":        "redispw0011",
		"cache redis":        "cachepw0012",
	}
	p := openaiProvider("up", "https://user:"+secrets["base url password"]+"@api.example.com/v1", "gpt")
	p.APIKeys = []string{secrets["provider key"]}
	p.OAuth.ClientSecret = secrets["oauth secret"]
	p.Headers = map[string]string{"X-Gateway-Auth": secrets["header value"]}
	p.FallbackBaseURLs = []string{"https://u:" + secrets["fallback password"] + "@fallback.example.com/v1"}
	cfg := baseConfig(p)
	cfg.Server.APIKeys = []string{secrets["server key"]}
	cfg.Clients = []config.Client{{Name: "alice", Key: secrets["client key"]}}
	cfg.Admin.Key, cfg.Admin.PasswordHash = secrets["admin key"], secrets["password hash"]
	cfg.Store.Driver, cfg.Store.DSN = "postgres", "postgres://proxy:"+secrets["store dsn password"]+"@db.example.com/proxy"
	cfg.Store.Redis = "redis://:" + secrets["store redis"] + "@redis.example.com:6379/0"
	cfg.Cache.Redis.Password = secrets["cache redis"]
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	out := srv.ConfigJSON()
	for what, v := range secrets {
		if strings.Contains(string(out), v) {
			t.Errorf("the %s is shown: %s", what, out)
		}
	}
	var tree struct {
		Server struct {
			APIKeys []string `json:"api_keys"`
		} `json:"server"`
		Providers []struct {
			Name    string            `json:"name"`
			BaseURL string            `json:"base_url"`
			APIKeys []string          `json:"api_keys"`
			Headers map[string]string `json:"headers"`
		} `json:"providers"`
		Admin struct {
			Key string `json:"key"`
		} `json:"admin"`
		Cache struct {
			Redis struct{ Password string } `json:"redis"`
		} `json:"cache"`
	}
	if err := json.Unmarshal(out, &tree); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	pv := tree.Providers[0]
	if pv.Name != "up" || pv.BaseURL != "https://***@api.example.com/v1" || pv.APIKeys[0] != "***" ||
		pv.Headers["X-Gateway-Auth"] != "***" || tree.Server.APIKeys[0] != "***" || tree.Admin.Key != "***" ||
		tree.Cache.Redis.Password != "***" {
		t.Fatalf("what is set is not shown as set: %s", out)
	}
	// The running configuration itself is untouched.
	if cfg.Providers[0].Headers["X-Gateway-Auth"] != secrets["header value"] || !strings.Contains(cfg.Providers[0].FallbackBaseURLs[0], secrets["fallback password"]) {
		t.Fatal("masking changed the running configuration")
	}
}
