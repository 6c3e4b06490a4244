package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testEmbed returns an EmbedFunc whose "proxy" and "upstream" are two mock
// servers; it records the options it was started with.
func testEmbed(t *testing.T, got *EmbedOptions) EmbedFunc {
	return func(o EmbedOptions) (*Embedded, error) {
		*got = o
		target := startMock(t, &mockServer{wrap: o.Profile.Wrap})
		base := startMock(t, &mockServer{wrap: o.Profile.Wrap})
		return &Embedded{Target: target, Baseline: base, APIKey: "test-key", Sample: SelfSample,
			Stop: func() error { return nil }}, nil
	}
}

func TestMainEmbeddedLightScaled(t *testing.T) {
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	var opts EmbedOptions
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Main(ctx, []string{"--tier", "light", "--scale", "0.05", "--interval", "50ms", "--warmup", "0",
		"--mock-tokens", "8", "--mock-chunk-delay", "20ms", "--mock-latency", "100ms",
		"--max-error-rate", "0.01", "--max-p99", "20s", "--max-ttft-p99", "20s",
		"--json", jsonPath, "--html", htmlPath}, &stdout, &stderr, testEmbed(t, &opts))
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if p := opts.Profile; p.Tokens.String() != "8" || p.TPOT.String() != "0.02" || p.TTFT.String() != "0.1" {
		t.Errorf("embed profile %+v", p)
	}
	for _, want := range []string{"== target", "== baseline", "target over baseline", "TTFT", "leak verdict", "SLO p99_ms.plain: PASS", "SLO p99_ms.stream: PASS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout.String())
		}
	}
	t.Logf("report:\n%s\nprogress:\n%s", stdout.String(), stderr.String())
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	checkFilled(t, rep)
	// The model-like mock runs target and baseline at once, each over
	// the whole duration.
	// (Alternating, each would get two quarters: at most 1.5 s.)
	for _, e := range rep.Endpoints {
		if !rep.Config.Concurrent || e.ActiveSeconds < 1.9 {
			t.Errorf("concurrent %v, %s active %.2f s; want the requests paced over the 3 s cap", rep.Config.Concurrent, e.Name, e.ActiveSeconds)
		}
	}

	// No field of the JSON may be null: every one was filled in.
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	walkNoNull(t, "", tree)

	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, string(page))
}

// checkFilled asserts that a light run produced every measurement.
func checkFilled(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.Endpoints) != 2 || rep.Comparison == nil {
		t.Fatalf("want target and baseline with a comparison, got %d endpoints", len(rep.Endpoints))
	}
	for _, e := range rep.Endpoints {
		c := e.Counters
		if c.Sent != 3 || c.OK != 3 || c.Streamed != 1 || c.Chunks == 0 || c.Bytes == 0 || c.OutputTokens != 24 {
			t.Errorf("%s counters %+v", e.Name, c)
		}
		for name, s := range map[string]Summary{"latency": e.Latency, "uncorrected": e.LatencyUncorrected,
			"plain": e.Plain.Latency, "plain uncorrected": e.Plain.LatencyUncorrected,
			"stream": e.Stream.Latency, "stream uncorrected": e.Stream.LatencyUncorrected,
			"headers": e.Headers, "headers uncorrected": e.HeadersUncorrected,
			"ttft": e.TTFT, "ttft uncorrected": e.TTFTUncorrected, "gap": e.ChunkGap, "tpot": e.TPOT} {
			if s.Count == 0 || s.Max <= 0 || s.P50 <= 0 || s.Mean <= 0 {
				t.Errorf("%s %s summary empty: %+v", e.Name, name, s)
			}
		}
		// The mock waits 100 ms before answering and 20 ms per chunk.
		if e.Latency.Min < 100 || e.TTFT.Min < 100 || e.TPOT.P50 < 15 {
			t.Errorf("%s: latency min %.1f, ttft min %.1f, tpot p50 %.1f ms below the mock's delays",
				e.Name, e.Latency.Min, e.TTFT.Min, e.TPOT.P50)
		}
		if e.Throughput.AchievedRPS <= 0 || e.Rates.ChunksPerS <= 0 || e.Rates.BytesPerS <= 0 || e.Rates.OutputTokensPerS <= 0 {
			t.Errorf("%s rates %+v %+v", e.Name, e.Throughput, e.Rates)
		}
		var done int64
		for _, b := range e.Timeline {
			done += b.Completed
		}
		if done != 3 {
			t.Errorf("%s timeline counts %d completions, want 3", e.Name, done)
		}
		if len(e.Histograms) != len(histKeys) {
			t.Errorf("%s has %d histograms", e.Name, len(e.Histograms))
		}
	}
	r := rep.Resources
	if r.Source != "embedded" || len(r.Samples) < 5 || r.PeakRSSBytes == 0 || r.MaxGoroutines <= 0 {
		t.Errorf("resources %s: %d samples, peak %d, goroutines %d", r.Source, len(r.Samples), r.PeakRSSBytes, r.MaxGoroutines)
	}
	if r.Leak.Verdict == "insufficient-data" || r.Leak.Samples < minLeakSamples || r.Leak.StartBytes <= 0 {
		t.Errorf("leak %+v", r.Leak)
	}
	g := rep.Generator
	if g.CPUSeconds <= 0 || g.WallSeconds <= 0 || g.CPUPercent <= 0 || g.GOMAXPROCS <= 0 || !g.IncludesTarget {
		t.Errorf("generator %+v", g)
	}
	if !rep.SLO.Pass || len(rep.SLO.Checks) != 4 {
		t.Errorf("slo %+v", rep.SLO)
	}
}

func walkNoNull(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		t.Errorf("JSON field %s is null", path)
	case map[string]any:
		for k, e := range x {
			walkNoNull(t, path+"."+k, e)
		}
	case []any:
		for i, e := range x {
			if i < 3 {
				walkNoNull(t, path+"[]", e)
			}
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	var opts EmbedOptions
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"slo p99 fails", []string{"--scale", "0.05", "-d", "1s", "--compare=false", "--mock-profile", "instant", "--mock-latency", "20ms", "--max-p99", "1ms", "--interval", "50ms"}, ExitSLO},
		{"open loop poisson", []string{"--scale", "0.05", "-d", "1s", "--mock-profile", "instant", "--compare=false", "--rate", "300", "--poisson", "--users", "4",
			"--requests", "10", "--interval", "50ms", "--max-error-rate", "0"}, ExitOK},
		{"unknown tier", []string{"--tier", "extreme"}, ExitUsage},
		{"bad flag", []string{"--no-such-flag"}, ExitUsage},
		{"stray argument", []string{"light"}, ExitUsage},
		{"pid without target", []string{"--pid", "1"}, ExitUsage},
		{"unreadable body", []string{"--scale", "0.05", "--body", "/nonexistent/body.json"}, ExitRunError},
		{"merge without files", []string{"merge"}, ExitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr, testEmbed(t, &opts))
			if code != tc.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout.String(), stderr.String())
			}
		})
	}
}

func TestMainTargetMode(t *testing.T) {
	target := startMock(t, &mockServer{opts: mockOpts{Tokens: 4}})
	base := startMock(t, &mockServer{opts: mockOpts{Tokens: 4}})
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--target", target + "/v1", "--baseline", base, "--pid", strconv.Itoa(os.Getpid()),
		"--users", "2", "--requests", "6", "--ramp", "0", "-d", "2s", "--interval", "20ms", "--json", jsonPath}, &stdout, &stderr,
		func(EmbedOptions) (*Embedded, error) {
			t.Error("embedded setup started in --target mode")
			return nil, nil
		})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) != 2 || rep.Endpoints[0].URL != target+"/v1" || rep.Endpoints[1].URL != base ||
		rep.Endpoints[0].Counters.OK != 12 || rep.Endpoints[1].Counters.OK != 12 || rep.Comparison == nil {
		t.Errorf("endpoints %+v", rep.Endpoints)
	}
	if rep.Resources.Source != "pid" || rep.Generator.IncludesTarget || rep.Config.Embedded {
		t.Errorf("source %q, includes target %v, embedded %v", rep.Resources.Source, rep.Generator.IncludesTarget, rep.Config.Embedded)
	}
}

func TestMainEmbedFailure(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--scale", "0.05"}, &stdout, &stderr,
		func(EmbedOptions) (*Embedded, error) { return nil, errors.New("port in use") })
	if code != ExitRunError || !strings.Contains(stderr.String(), "port in use") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if code := Main(context.Background(), []string{"--scale", "0.05"}, &stdout, &stderr, nil); code != ExitRunError {
		t.Errorf("no embed func: exit %d", code)
	}
}
