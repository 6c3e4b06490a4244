package deploy

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/loadtest"
	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fasthttp"
)

// startProxy runs one real proxy instance, on the in-process mock provider,
// and returns its address and a counter of the chat requests it served.
func startProxy(t *testing.T) (addr string, served func() int) {
	t.Helper()
	cfg := config.Defaults()
	cfg.Server.APIKeys = []string{"scale"}
	cfg.Log.Level = "error"
	cfg.Providers[0].Mock.Tokens = 8
	full, err := config.FromStruct(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proxy.New(full, nil)
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
	addr = ln.Addr().String()
	return addr, func() int { return requestsServed(t, addr) }
}

// requestsServed sums proxy_requests_total with status 200 from /metrics.
func requestsServed(t *testing.T, addr string) int {
	t.Helper()
	status, body, err := fasthttp.GetTimeout(nil, "http://"+addr+"/metrics", 5*time.Second)
	if err != nil || status != 200 {
		t.Fatalf("GET /metrics from %s: %d %v", addr, status, err)
	}
	total := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "proxy_requests_total{") && strings.Contains(line, `status="200"`) {
			n, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			total += n
		}
	}
	return total
}

// TestScaleOutBehindNginx runs three real proxy instances behind the
// shipped nginx config and drives them with the load tester through nginx:
// no request fails, and every instance takes a share of the load.
func TestScaleOutBehindNginx(t *testing.T) {
	if _, err := os.Stat(nginxBin); err != nil {
		t.Skip("nginx not installed (apt-get install nginx): ", err)
	}
	var addrs []string
	var counters []func() int
	for i := 0; i < 3; i++ {
		a, c := startProxy(t)
		addrs, counters = append(addrs, a), append(counters, c)
	}
	front := startNginx(t, addrs)
	var out, errOut bytes.Buffer
	const users, perUser = 6, 30
	code := loadtest.Main(context.Background(), []string{
		"--target", "http://" + front, "--api-key", "scale", "--model", "mock-gpt",
		"--users", strconv.Itoa(users), "--requests", strconv.Itoa(perUser), "--stream", "0.5",
		"--ramp", "0s", "--duration", "60s", "--max-error-rate", "0",
		"--out", "", // no report folder left in the source tree
	}, &out, &errOut, nil)
	if code != 0 {
		t.Fatalf("loadtest exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	sum := 0
	for i, c := range counters {
		n := c()
		if n == 0 {
			t.Errorf("instance %d (%s) served no request", i, addrs[i])
		}
		sum += n
	}
	if sum != users*perUser {
		t.Errorf("instances served %d requests, the load tester sent %d", sum, users*perUser)
	}
}
