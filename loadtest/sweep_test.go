package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// startSerialServer answers chat completions one at a time, each taking
// service: its capacity is 1/service requests per second however many
// connections it has.
func startSerialServer(t *testing.T, service time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	srv := &fasthttp.Server{CloseOnShutdown: true, Handler: func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		time.Sleep(service)
		mu.Unlock()
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}],"usage":{"completion_tokens":1}}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestSweepFindsCapacity sweeps 25, 100 and 400 req/s against a server
// that can answer 250 req/s (4 ms each, one at a time; nearer 200 on a
// loaded machine): 25 and 100 meet a 400 ms p99, 400 builds a queue that
// misses it, so the goodput is 100 req/s and the sweep stops at 400.
func TestSweepFindsCapacity(t *testing.T) {
	url := startSerialServer(t, 4*time.Millisecond)
	jsonPath := filepath.Join(t.TempDir(), "sweep.json")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--target", url, "--sweep", "25..400", "--sweep-steps", "3", "-c", "64",
		"-d", "1500ms", "--grace", "300ms", "--stream", "0", "--max-p99", "400ms", "--json", jsonPath}, &stdout, &stderr, nil)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	sw := rep.Sweep
	if sw == nil {
		t.Fatalf("no sweep in the report")
	}
	t.Logf("%s", stdout.String()[strings.Index(stdout.String(), "== sweep"):])
	if len(sw.Steps) != 3 || sw.GoodputRPS != 100 || sw.SaturatedAtRPS != 400 {
		t.Errorf("steps %+v, goodput %v, saturated at %v; want 25 and 100 passing, 400 failing", sw.Steps, sw.GoodputRPS, sw.SaturatedAtRPS)
	}
	if rep.Config.Rate != 100 || rep.Endpoints[0].Throughput.TargetRPS != 100 {
		t.Errorf("the report shows the %v req/s step, want the goodput's", rep.Config.Rate)
	}
	// A server that cannot meet even the first step fails the run.
	slow := startSerialServer(t, 20*time.Millisecond)
	code = Main(context.Background(), []string{"--target", slow, "--sweep", "200..400", "--sweep-steps", "2", "-c", "64",
		"-d", "500ms", "--grace", "100ms", "--stream", "0", "--max-p99", "100ms"}, &stdout, &stderr, nil)
	if code != ExitSLO {
		t.Errorf("no step met the SLO: exit %d", code)
	}
}
