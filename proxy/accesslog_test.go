package proxy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestAccessLineSaysWhy: a refused request's access line carries the model
// it asked for (capped), the error kind and the reason, on one line.
func TestAccessLineSaysWhy(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	full, err := config.FromStruct(*baseConfig(mockProvider("local", 3, "local-gpt")))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(full, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()
	hc := httpClient(t)
	long := strings.Repeat("m", 5000)
	for model, status := range map[string]int{"no-such-model": 404, long: 400} {
		if resp, b := do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody(model, false), bearer(testKey)); resp.StatusCode != status {
			t.Fatalf("status %d %s", resp.StatusCode, b)
		}
	}
	_ = srv.log.Sync()
	var lines []map[string]any
	for _, e := range logs.FilterMessage("request").All() {
		lines = append(lines, e.ContextMap())
	}
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2", len(lines))
	}
	if lines[0]["model"] != "no-such-model" {
		lines[0], lines[1] = lines[1], lines[0]
	}
	if lines[0]["model"] != "no-such-model" || lines[0]["error_kind"] != "model_not_found" ||
		!strings.Contains(lines[0]["reason"].(string), "not served by this proxy") {
		t.Fatalf("access line %v", lines[0])
	}
	if m := lines[1]["model"].(string); len(m) > 210 || !strings.HasPrefix(m, "mmmm") {
		t.Fatalf("a 5000-byte model logged as %d bytes", len(m))
	}
	if r := lines[1]["reason"].(string); len(r) > 210 {
		t.Fatalf("reason of %d bytes", len(r))
	}
}
