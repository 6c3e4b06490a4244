package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/faults"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

// serveFaultProxy is startFaultProxy for tests that shut the proxy down
// themselves: it returns the server, its base URL and the Serve result.
func serveFaultProxy(t *testing.T, cfg *config.Config) (*Server, string, <-chan error) {
	t.Helper()
	full, err := config.FromStruct(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(full, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), done
}

// openStreams starts n streaming requests and returns once each has
// received its response headers; the results arrive on the channel.
func openStreams(t *testing.T, hc *http.Client, base string, n int) <-chan chatResult {
	t.Helper()
	out := make(chan chatResult, n)
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(chatBody(faultModel, true)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := hc.Do(req)
			started.Done()
			if err != nil {
				out <- chatResult{raw: err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			out <- parseChat(resp, string(b), true)
		}()
	}
	started.Wait()
	return out
}

// TestShutdownLetsStreamsFinish is SIGTERM with 100 active streams: the
// proxy stops accepting, and every stream finishes whole within the grace
// period.
func TestShutdownLetsStreamsFinish(t *testing.T) {
	checkLeaks(t)
	const n = 100
	a := startFaults(t, faults.Script{Kind: faults.Slow, Chunks: 5, Gap: 100 * time.Millisecond})
	srv, base, served := serveFaultProxy(t, baseConfig(faultProvider("a", a.URL(), 4)))
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	results := openStreams(t, hc, base, n)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for range n {
		r := <-results
		if r.status != 200 || !r.done || r.text != faults.Content(5) || r.streamErr != "" {
			t.Fatalf("stream cut by shutdown: %+v", r)
		}
	}
	if _, err := hc.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(chatBody(faultModel, false))); err == nil {
		t.Fatal("a request was accepted after shutdown")
	}
}

// TestShutdownGraceOver: streams still running when the grace period ends
// get an error event in their protocol, and shutdown returns soon after.
func TestShutdownGraceOver(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.StreamStall, Chunks: 1})
	cfg := baseConfig(faultProvider("a", a.URL(), 1))
	cfg.Server.StreamHeartbeat = 50 * time.Millisecond
	srv, base, served := serveFaultProxy(t, cfg)
	hc := httpClient(t)
	results := openStreams(t, hc, base, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = srv.Shutdown(ctx)
	<-served
	if d := time.Since(start); d > stopWait {
		t.Fatalf("shutdown took %v", d)
	}
	for range 5 {
		r := <-results
		if r.status != 200 || r.done || r.text != faults.Content(1) || !strings.Contains(r.streamErr, "shutting down") {
			t.Fatalf("stream at the end of the grace period: %+v", r)
		}
	}
}

// TestReloadUnderLoad is SIGHUP under load: configurations alternate while
// clients keep sending plain and streaming requests; none may fail, and a
// provider whose settings did not change keeps its key pool.
func TestReloadUnderLoad(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{})
	b := startFaults(t, faults.Script{})
	cfgA := faultConfig(faultProvider("a", a.URL(), 2), faultProvider("b", b.URL(), 1))
	cfgB := faultConfig(faultProvider("a", a.URL(), 3), faultProvider("b", b.URL(), 1))
	cfgB.Server.MaxConcurrentRequests = 1000
	full := func(c *config.Config) *config.Config {
		f, err := config.FromStruct(*c)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	srv, base := startFaultProxy(t, cfgA)
	poolB := srv.current().ups["b"].pool
	hc := httpClient(t)
	var failed, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := chat(t, hc, base, i%2 == 0, nil)
				if r.status != 200 || r.text != faults.Content(3) || (i%2 == 0 && !r.done) {
					failed.Add(1)
					t.Errorf("request failed during reload: %+v", r)
				}
				served.Add(1)
			}
		}()
	}
	for i := range 10 {
		next := cfgA
		if i%2 == 0 {
			next = cfgB
		}
		if err := srv.Reload(full(next)); err != nil {
			t.Fatalf("reload: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bad := full(cfgA)
	bad.Providers[0].Type = "nonsense"
	if err := srv.Reload(bad); err == nil {
		t.Fatal("an invalid configuration was installed")
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || served.Load() == 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), served.Load())
	}
	if srv.current().ups["b"].pool != poolB {
		t.Fatal("an unchanged provider lost its key pool on reload")
	}
	if got := len(srv.current().ups["a"].pool.Snapshot()); got != 2 {
		t.Fatalf("provider a has %d keys after the last reload, want 2", got)
	}
}

// TestReloadRetiresOldProviders: a provider whose settings changed is
// rebuilt; the old one's key checks stop once its requests are done, and
// in-flight requests finish on the configuration they started with.
func TestReloadRetiresOldProviders(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.Slow, Chunks: 3, Gap: 50 * time.Millisecond})
	pa := faultProvider("a", a.URL(), 1)
	pa.HealthCheck.Interval = 20 * time.Millisecond
	srv, base := startFaultProxy(t, baseConfig(pa))
	old := srv.current()
	hc := httpClient(t)
	running := openStreams(t, hc, base, 1)

	pa2 := faultProvider("a", a.URL(), 2)
	pa2.HealthCheck.Interval = 20 * time.Millisecond
	next, err := config.FromStruct(*baseConfig(pa2))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	if srv.current().ups["a"] == old.ups["a"] {
		t.Fatal("a changed provider was carried over")
	}
	if r := <-running; r.status != 200 || !r.done || r.text != faults.Content(3) {
		t.Fatalf("stream across the reload: %+v", r)
	}
	for _, r := range a.Log() {
		if r.Method == http.MethodPost && r.Key != "a-k0" {
			t.Fatalf("the in-flight request used key %s of the new config", r.Key)
		}
	}
	select {
	case <-old.ups["a"].checker.done:
	case <-time.After(3 * time.Second):
		t.Fatal("the old provider's key checks still run")
	}
}

// TestReloadRotatesClientKeys: a reload that changes server.api_keys takes
// effect for the next request.
func TestReloadRotatesClientKeys(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{})
	cfg := baseConfig(faultProvider("a", a.URL(), 1))
	srv, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	next := baseConfig(faultProvider("a", a.URL(), 1))
	next.Server.APIKeys = []string{"rotated-key"}
	full, err := config.FromStruct(*next)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(full); err != nil {
		t.Fatal(err)
	}
	if r := chat(t, hc, base, false, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("old key after rotation: %+v", r)
	}
	if r := chat(t, hc, base, false, map[string]string{"Authorization": "Bearer rotated-key"}); r.status != 200 {
		t.Fatalf("new key after rotation: %+v", r)
	}
	waitIdle(t, srv, hc)
}
