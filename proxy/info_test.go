package proxy

import (
	"context"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/valyala/fastjson"
	"go.uber.org/zap"
)

// infoConfig has a keyless provider (as an unset ${VAR} leaves it) between
// two usable ones: the keyless one must be skipped, the others served.
func infoConfig(t *testing.T) *config.Config {
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 2}})
	nokeys := openaiProvider("nokeys", up, "ghost-model")
	nokeys.APIKeys = []string{"", ""}
	return baseConfig(
		mockProvider("local", 2, "local-gpt", "shared"),
		nokeys,
		openaiProvider("remote", up, "remote-gpt", "shared", "*"),
	)
}

func TestHealth(t *testing.T) {
	_, base := startProxy(t, infoConfig(t))
	resp, b := do(t, httpClient(t), http.MethodGet, base+"/health", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /health without a key: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		t.Fatalf("health is not JSON: %v: %s", err, b)
	}
	if s := string(v.GetStringBytes("status")); s != "ok" {
		t.Fatalf("status %q", s)
	}
	var names []string
	for _, p := range v.GetArray("providers") {
		names = append(names, string(p.GetStringBytes("name")))
		for _, k := range []string{"protocol", "status", "conns_open", "pending", "keys"} {
			if p.Get(k) == nil {
				t.Fatalf("provider entry lacks %q: %s", k, p)
			}
		}
		if string(p.GetStringBytes("protocol")) != "openai" || string(p.GetStringBytes("status")) != "up" {
			t.Fatalf("provider entry %s", p)
		}
	}
	if want := []string{"local", "remote"}; !slices.Equal(names, want) {
		t.Fatalf("health lists providers %q, want %q (keyless one skipped)", names, want)
	}
}

func TestModels(t *testing.T) {
	_, base := startProxy(t, infoConfig(t))
	hc := httpClient(t)
	tests := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		ids    []string
		owner  string
	}{
		{name: "all", path: "/v1/models", hdr: bearer(testKey), status: 200, ids: []string{"local-gpt", "shared", "remote-gpt"}, owner: "llmproxy"},
		{name: "one-provider", path: "/remote/v1/models", hdr: bearer(testKey), status: 200, ids: []string{"remote-gpt", "shared"}, owner: "remote"},
		{name: "skipped-provider", path: "/nokeys/v1/models", hdr: bearer(testKey), status: 404},
		{name: "no-key", path: "/v1/models", status: 401},
		{name: "wrong-key", path: "/v1/models", hdr: bearer("nope"), status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(t, hc, http.MethodGet, base+tc.path, "", tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status != 200 {
				openAIError(t, b)
				return
			}
			v, err := fastjson.ParseBytes(b)
			if err != nil || string(v.GetStringBytes("object")) != "list" {
				t.Fatalf("not a model list: %s", b)
			}
			var ids []string
			for _, m := range v.GetArray("data") {
				ids = append(ids, string(m.GetStringBytes("id")))
				if string(m.GetStringBytes("object")) != "model" || m.GetInt64("created") <= 0 || string(m.GetStringBytes("owned_by")) != tc.owner {
					t.Fatalf("model entry %s", m)
				}
			}
			if !slices.Equal(ids, tc.ids) {
				t.Fatalf("ids %q, want %q", ids, tc.ids)
			}
		})
	}
	t.Run("sdk", func(t *testing.T) {
		client := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(testKey),
			option.WithHTTPClient(hc), option.WithMaxRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 3 || page.Data[0].ID != "local-gpt" {
			t.Fatalf("SDK model list %+v", page.Data)
		}
	})
}

// TestSkippedProvider checks that the keyless provider's model is not
// served while the other providers are, and that a configuration with no
// usable provider at all is refused.
func TestSkippedProvider(t *testing.T) {
	_, base := startProxy(t, infoConfig(t))
	hc := httpClient(t)
	resp, b := do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody("local-gpt", false), bearer(testKey))
	if resp.StatusCode != 200 {
		t.Fatalf("usable provider: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody("remote-gpt", false), bearer(testKey))
	if resp.StatusCode != 200 {
		t.Fatalf("usable provider after the skipped one: %d %s", resp.StatusCode, b)
	}
	hdr := bearer(testKey)
	hdr[HeaderModelProvider] = "nokeys"
	resp, b = do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody("ghost-model", false), hdr)
	if resp.StatusCode != 404 {
		t.Fatalf("skipped provider by header: %d %s", resp.StatusCode, b)
	}
	nokeys := openaiProvider("nokeys", "http://127.0.0.1:1/v1", "ghost-model")
	nokeys.APIKeys = []string{""}
	_, base = startProxy(t, baseConfig(nokeys, mockProvider("local", 2, "local-gpt")))
	resp, b = do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody("ghost-model", false), bearer(testKey))
	if resp.StatusCode != 404 || !strings.Contains(string(b), "provider 'nokeys', which is skipped: its api_keys are empty") {
		t.Fatalf("a model of the skipped provider: %d %s, want a 404 that names the provider and why", resp.StatusCode, b)
	}
	if _, b = do(t, hc, http.MethodGet, base+"/health", "", nil); !strings.Contains(string(b), `"skipped_providers":["nokeys"]`) {
		t.Fatalf("/health does not name the skipped provider: %s", b)
	}

	only := openaiProvider("nokeys", "http://127.0.0.1:1/v1", "m")
	only.APIKeys = []string{""}
	if _, err := New(baseConfig(only), zap.NewNop()); err == nil {
		t.Fatal("New accepted a configuration whose every provider lacks keys")
	}
}

func TestRequestID(t *testing.T) {
	_, base := startProxy(t, baseConfig(mockProvider("local", 2, "local-gpt")))
	hc := httpClient(t)
	long := strings.Repeat("x", 129)
	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		keep   string // the id expected back; "" means a generated one
	}{
		{name: "client-id/success", path: "/v1/chat/completions", hdr: map[string]string{"Authorization": "Bearer " + testKey, "X-Request-Id": "abc-123"}, keep: "abc-123"},
		{name: "client-id/unauthorized", path: "/v1/chat/completions", hdr: map[string]string{"X-Request-Id": "abc-401"}, keep: "abc-401"},
		{name: "client-id/unknown-path", path: "/nowhere", hdr: map[string]string{"X-Request-Id": "abc-404"}, keep: "abc-404"},
		{name: "client-id/health", method: http.MethodGet, path: "/health", hdr: map[string]string{"X-Request-Id": "abc-h"}, keep: "abc-h"},
		{name: "generated/success", path: "/v1/chat/completions", hdr: bearer(testKey)},
		{name: "generated/unauthorized", path: "/v1/chat/completions"},
		{name: "generated/too-long", path: "/v1/chat/completions", hdr: map[string]string{"Authorization": "Bearer " + testKey, "X-Request-Id": long}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			resp, _ := do(t, hc, method, base+tc.path, chatBody("local-gpt", false), tc.hdr)
			id := resp.Header.Get("X-Request-Id")
			if tc.keep != "" {
				if id != tc.keep {
					t.Fatalf("X-Request-Id %q, want the client's %q", id, tc.keep)
				}
				return
			}
			if !strings.HasPrefix(id, "req_") || len(id) > 64 {
				t.Fatalf("generated X-Request-Id %q", id)
			}
			if seen[id] {
				t.Fatalf("X-Request-Id %q generated twice", id)
			}
			seen[id] = true
		})
	}
}
