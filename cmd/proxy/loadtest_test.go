package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/loadtest"
)

// TestLoadTestLightEmbedded runs `proxy loadtest --tier light --scale 0.05`
// against the embedded mock upstream and proxy: zero errors, every report
// field filled, JSON and HTML written and valid.
func TestLoadTestLightEmbedded(t *testing.T) {
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	var out, errOut bytes.Buffer
	// The short interval gives the leak check enough resource samples in a
	// run this small; the chunk delay makes streams last long enough to sample.
	code := run([]string{"loadtest", "--tier", "light", "--scale", "0.05", "--interval", "50ms",
		"--mock-chunk-delay", "2ms", "--mock-latency", "20ms", "--mock-tokens", "10", "--json", jsonPath, "--html", htmlPath}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	rep, err := loadtest.ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) != 2 {
		t.Fatalf("%d endpoints, want target and baseline", len(rep.Endpoints))
	}
	for _, ep := range rep.Endpoints {
		c := ep.Counters
		if c.Sent == 0 || c.OK != c.Sent || len(c.Errors) != 0 || c.Truncated != 0 {
			t.Errorf("%s: sent %d ok %d errors %v truncated %d", ep.Name, c.Sent, c.OK, c.Errors, c.Truncated)
		}
		if c.Streamed == 0 || c.Chunks == 0 || c.OutputTokens == 0 {
			t.Errorf("%s: no streaming measured: %+v", ep.Name, c)
		}
		if ep.Latency.Count == 0 || ep.TTFT.Count == 0 || ep.Latency.P99 <= 0 {
			t.Errorf("%s: latency %+v ttft %+v", ep.Name, ep.Latency, ep.TTFT)
		}
	}
	if rep.Comparison == nil {
		t.Error("no target-over-baseline comparison")
	}
	if rep.Resources.Source != "embedded" || len(rep.Resources.Samples) == 0 || rep.Resources.PeakRSSBytes == 0 {
		t.Errorf("resources not sampled: %+v", rep.Resources)
	}
	// The proxy runs in its own process, read from /proc (goroutines are
	// unknown from outside), so its figures are its own. Its CPU time in a
	// run this short may be below /proc's 10 ms resolution.
	if rep.Generator.IncludesTarget || rep.Resources.MaxGoroutines != -1 || rep.Resources.Operator.CPUSeconds < 0 {
		t.Errorf("embedded proxy figures: includes target %v, goroutines %d, operator %+v",
			rep.Generator.IncludesTarget, rep.Resources.MaxGoroutines, rep.Resources.Operator)
	}
	// No field of the report may be left null.
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	if path := findNull(generic, "$"); path != "" {
		t.Errorf("report field %s is null", path)
	}
	html, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(html), []byte("<!DOCTYPE html>")) || !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("HTML report is not a page with charts (%d bytes)", len(html))
	}
	if !strings.Contains(out.String(), "target over baseline") {
		t.Errorf("text report lacks the comparison:\n%s", out.String())
	}
}

// findNull returns the path of the first null in v, or "".
func findNull(v any, path string) string {
	switch x := v.(type) {
	case nil:
		return path
	case map[string]any:
		for k, e := range x {
			if p := findNull(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := findNull(e, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestLoadTestProtocolsThroughProxy runs a short load in every client
// protocol, with tool-call conversations, through the embedded proxy (which
// converts them to the OpenAI mock upstream) and to the mock directly.
func TestLoadTestProtocolsThroughProxy(t *testing.T) {
	for _, proto := range []string{"chat", "responses", "anthropic", "gemini"} {
		t.Run(proto, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "run.json")
			var out, errOut bytes.Buffer
			code := run([]string{"loadtest", "--protocol", proto, "--tools", "--turns", "2", "-c", "2", "--requests", "4",
				"-d", "1s", "--mock-profile", "instant", "--json", jsonPath}, &out, &errOut)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			}
			rep, err := loadtest.ReadReport(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, ep := range rep.Endpoints {
				if c := ep.Counters; c.OK != 8 || c.Streamed != 4 || c.OutputTokens == 0 || c.TokensFromChunks != 0 {
					t.Errorf("%s: %+v", ep.Name, c)
				}
			}
		})
	}
}
