package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/loadtest"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/config"
)

const (
	dashboardFile = "grafana-dashboard.json"
	prometheusBin = "/usr/bin/prometheus"
)

// dashPanel is the part of a Grafana panel the tests read.
type dashPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

// panelQuery is one PromQL query of one panel.
type panelQuery struct{ panel, ref, expr string }

// dashboardQueries reads the dashboard and returns every panel's queries,
// checking the panels' structure on the way.
func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string      `json:"title"`
		UID        string      `json:"uid"`
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "job", "provider", "model"} {
		if !vars[v] {
			t.Errorf("dashboard lacks the variable %s", v)
		}
	}
	var out []panelQuery
	ids := map[int]string{}
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q has no size", p.Title)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
				t.Errorf("panel %q: datasource %+v, %d queries", p.Title, p.Datasource, len(p.Targets))
			}
			for _, q := range p.Targets {
				if strings.TrimSpace(q.Expr) == "" {
					t.Errorf("panel %q query %s is empty", p.Title, q.RefID)
				}
				out = append(out, panelQuery{p.Title, q.RefID, q.Expr})
			}
		}
	}
	walk(d.Panels)
	return out
}

// grafanaVars stands in for Grafana's interpolation: every option of a
// multi-value variable, and fixed windows for the interval macros.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m", "$__interval", "15s", "$__range", "5m",
	"$provider", ".*", "$model", ".*", "$job", ".*",
)

// TestDashboardQueriesReturnData starts a real proxy with two providers
// (the built-in mock, and an OpenAI-type provider with two keys in front
// of a mock upstream that rate-limits some requests), puts it under a
// short load from the load tester, has a real Prometheus scrape it, and
// evaluates every query of the dashboard through Prometheus' HTTP API:
// each must return data.
func TestDashboardQueriesReturnData(t *testing.T) {
	queries := dashboardQueries(t)
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("%s not installed (Debian package prometheus)", prometheusBin)
	}
	if testing.Short() {
		t.Skip("starts Prometheus and a proxy under load")
	}
	upstream := startMockUpstream(t)
	addr := startDashProxy(t, upstream)
	prom := startPrometheus(t, addr)

	// The load: both providers, half streamed, and a few answers the
	// built-in mock fails on purpose, so that errors have kinds.
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i, model := range []string{"mock-gpt", "up-gpt"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var out strings.Builder
			code := loadtest.Main(ctx, []string{"--target", "http://" + addr, "--api-key", "dash", "--model", model,
				"-c", "4", "--requests", "40", "-d", "8s", "--ramp", "0", "--stream", "0.5", "--max-error-rate", "-1",
				"--json", filepath.Join(dir, fmt.Sprintf("load%d.json", i))}, &out, &out, nil)
			if code != loadtest.ExitOK {
				t.Errorf("load on %s: exit %d\n%s", model, code, out.String())
			}
		}()
	}
	for _, status := range []string{"500", "429", "503"} {
		for range 3 {
			failOnPurpose(t, addr, status)
		}
	}
	wg.Wait()

	// Every query must return a sample with a number (histogram_quantile
	// of an idle series gives NaN, which is no data for a graph). The
	// scrapes run every second; give them time to see the load.
	deadline := time.Now().Add(60 * time.Second)
	for _, q := range queries {
		expr := grafanaVars.Replace(q.expr)
		for {
			n, err := queryData(prom, expr)
			if err == nil && n > 0 {
				t.Logf("%-40s %s: %d series", q.panel, q.ref, n)
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("panel %q query %s returned no data: %v\n%s", q.panel, q.ref, err, expr)
				break
			}
			time.Sleep(500 * time.Millisecond) // polling an external process, not asserting
		}
	}
}

// startMockUpstream serves the mock upstream on loopback: every fifth chat
// request answers 429, so keys cool down and attempts are retried.
func startMockUpstream(t *testing.T) string {
	t.Helper()
	srv := mock.NewServer(mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 12, Delay: 5 * time.Millisecond},
		ErrorRate: 0.2, ErrorStatus: 429})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String() + "/v1"
}

// dashConfig has the built-in mock and an OpenAI-type provider with two
// keys; a key's cooldown after a 429 is short, so both keep serving. The
// built-in mock's answers are cached: the load repeats its requests, so
// the cache panels see hits and misses.
const dashConfig = `server:
  host: 127.0.0.1
  port: 0
  api_keys: [dash]
log:
  level: error
providers:
  - name: builtin
    type: mock
    models: [mock-gpt]
    mock: {tokens: 12, delay: 5ms}
  - name: upstream
    type: openai
    base_url: %q
    api_keys: [up-key-1, up-key-2]
    models: [up-gpt]
cache:
  targets:
    - {provider: builtin, allow_temperature: true}
`

// startDashProxy runs the proxy in this process on a loopback port.
func startDashProxy(t *testing.T, upstream string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, dashConfig, upstream), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Source{Path: path, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proxy.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// failOnPurpose asks the built-in mock for an error answer.
func failOnPurpose(t *testing.T, addr, status string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer dash")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(mock.HeaderStatus, status)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The proxy answers in its own terms (a 429 of a keyless provider is
	// retried and ends as 503), but never with success.
	if resp.StatusCode < 400 {
		t.Errorf("X-Mock-Status %s answered %d", status, resp.StatusCode)
	}
}

// startPrometheus runs Prometheus scraping the proxy's /metrics every
// second and returns its address.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: proxy\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prometheusBin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+web, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
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
	return web
}

// queryData evaluates an instant query and counts the series whose value
// is a number.
func queryData(addr, expr string) (int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("decode %s: %w", body, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query failed: %s", r.Error)
	}
	n := 0
	for _, s := range r.Data.Result {
		v, _ := s.Value[1].(string)
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%d series, none with a number", len(r.Data.Result))
	}
	return n, nil
}
