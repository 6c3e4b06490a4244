package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

const prometheusBin = "/usr/bin/prometheus"

// TestScrapedByRealPrometheus serves the Set from a fasthttp server, lets a
// real Prometheus scrape it, and reads series back through its query API.
func TestScrapedByRealPrometheus(t *testing.T) {
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("%s not installed (Debian package prometheus)", prometheusBin)
	}
	if testing.Short() {
		t.Skip("starts a Prometheus server")
	}

	s := newTestSet()
	for i := 0; i < 3; i++ {
		s.ObserveRequest("anthropic", "anthropic", "claude-sonnet", 200, 1200*time.Millisecond, 1100*time.Millisecond, 300, 9000)
	}
	target := serveMetrics(t, s)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: proxy
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	webAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prometheusBin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+webAddr,
		"--log.level=warn",
	)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})

	queries := []struct {
		query string
		want  float64
	}{
		{`proxy_requests_total{ingress="anthropic",provider="anthropic",model="claude-sonnet",status="200"}`, 3},
		{`proxy_request_duration_seconds_count{ingress="anthropic",model="claude-sonnet"}`, 3},
		// Cumulative le buckets make the stock histogram_quantile work:
		// all three samples sit in the (1s, 2.5s] bucket.
		{`histogram_quantile(0.5, proxy_request_duration_seconds_bucket{ingress="anthropic"}) > 1`, -1},
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, q := range queries {
		for {
			v, ok, err := queryOne(webAddr, q.query)
			if ok && (q.want < 0 || v == q.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("query %s: value %v, found %v, last error %v", q.query, v, ok, err)
			}
			time.Sleep(250 * time.Millisecond) // polling an external process, not asserting
		}
	}
}

func serveMetrics(t *testing.T, s *Set) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/metrics" {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		s.Handler(ctx)
	}}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// queryOne runs an instant query and returns the first sample's value.
func queryOne(addr, query string) (float64, bool, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, false, fmt.Errorf("decode %s: %w", body, err)
	}
	if r.Status != "success" || len(r.Data.Result) == 0 {
		return 0, false, fmt.Errorf("no result: %s", body)
	}
	sv, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(sv, 64)
	return v, err == nil, err
}
