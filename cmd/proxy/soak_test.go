//go:build soak

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmproxy/proxy/loadtest"
)

// maxSoakSlope is the soak's memory bound: after warm-up (the first quarter
// of the run, while the heap finds its size), the least-squares RSS slope
// of the process (proxy, mock upstream and load generator together,
// embedded mode) must stay under 16 KiB/s, under 7 MiB over the remaining
// 7.5 minutes. At the moderate tier's ~20,000 requests/s here, leaking one
// byte per request would already exceed it.
const maxSoakSlope = 16 << 10

// slope fits RSS = a + b*t by least squares over the samples from warmup on.
func slope(samples []loadtest.ResourceSample, warmup float64) (float64, int) {
	var n, st, sy float64
	for _, s := range samples {
		if s.T >= warmup {
			n, st, sy = n+1, st+s.T, sy+float64(s.RSSBytes)
		}
	}
	if n < 3 {
		return 0, int(n)
	}
	mt, my := st/n, sy/n
	var sxy, sxx float64
	for _, s := range samples {
		if s.T >= warmup {
			sxy += (s.T - mt) * (float64(s.RSSBytes) - my)
			sxx += (s.T - mt) * (s.T - mt)
		}
	}
	if sxx == 0 {
		return 0, int(n)
	}
	return sxy / sxx, int(n)
}

// TestSoak runs the moderate tier through the embedded proxy for ten
// minutes (SOAK_DURATION overrides), half the requests streamed, and
// passes when no request failed and RSS stayed flat. It runs only with
// -tags soak (make soak), never in make test.
func TestSoak(t *testing.T) {
	d := 10 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
	}
	report := filepath.Join(t.TempDir(), "soak.json")
	args := []string{
		"--tier", "moderate",
		"--duration", d.String(),
		// Enough requests that the duration, not the count, ends the run.
		"--requests", "1000000",
		"--stream", "0.5",
		"--ramp", (d / 20).String(),
		"--compare=false",
		// Throughput, not model-like latency, is what finds a leak in ten minutes.
		"--mock-profile", "instant",
		"--interval", "2s",
		"--max-error-rate", "0",
		"--json", report,
	}
	var stdout, stderr bytes.Buffer
	code := loadtest.Main(context.Background(), args, &stdout, &stderr, embedded)
	t.Logf("report:\n%s", stdout.String())
	if code != loadtest.ExitOK && code != loadtest.ExitSLO {
		t.Fatalf("loadtest exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadtest.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) == 0 {
		t.Fatal("no endpoint in the report")
	}
	c := rep.Endpoints[0].Counters
	if c.Sent == 0 || c.OK != c.Sent || c.Truncated != 0 || len(c.Errors) != 0 || c.Streamed == 0 {
		t.Fatalf("requests: sent %d, ok %d, streamed %d, truncated %d, errors %v", c.Sent, c.OK, c.Streamed, c.Truncated, c.Errors)
	}
	warmup := d.Seconds() / 4
	b2, n := slope(rep.Resources.Samples, warmup)
	t.Logf("RSS after %.0f s warm-up: slope %.0f B/s over %d samples (bound %d B/s); peak %.1f MiB, max goroutines %d",
		warmup, b2, n, maxSoakSlope, float64(rep.Resources.PeakRSSBytes)/(1<<20), rep.Resources.MaxGoroutines)
	if n < 3 {
		t.Fatal("too few resource samples to judge memory")
	}
	if b2 > maxSoakSlope {
		t.Fatalf("RSS grows: %.0f B/s after warm-up (bound %d B/s)", b2, maxSoakSlope)
	}
}
