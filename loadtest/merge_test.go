package loadtest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"
)

// fakeReport builds a report whose target saw latencies lo..hi ms.
func fakeReport(t *testing.T, lo, hi int, withBaseline bool) *Report {
	t.Helper()
	rep := &Report{Schema: SchemaVersion, StartedAt: "2026-01-01T00:00:00Z", MergedFrom: []string{},
		Config: Config{Tier: "light", Mode: "closed", Users: 10, Requests: 5, Total: 50, Scale: 1, Protocol: "chat",
			Duration: time.Minute, Ramp: 2 * time.Second, Timeout: 30 * time.Second, Interval: time.Second},
		Generator: GeneratorReport{CPUSeconds: 1, WallSeconds: 10, GOMAXPROCS: 2}}
	names := []string{"target"}
	if withBaseline {
		names = append(names, "baseline")
	}
	for _, n := range names {
		d := &endpointData{name: n, url: "http://x", h: newHists(), active: 10,
			c:        Counters{Sent: int64(hi - lo + 1), OK: int64(hi - lo + 1), Bytes: 100, Errors: map[string]int64{}},
			timeline: []Bucket{{T: 1, Completed: int64(hi - lo + 1)}}}
		for i := lo; i <= hi; i++ {
			recordDur(d.h.PlainLatency, time.Duration(i)*time.Millisecond)
			recordDur(d.h.PlainLatencyUncorrected, time.Duration(i)*time.Millisecond)
		}
		rep.Endpoints = append(rep.Endpoints, d.report())
	}
	rep.Config.fillSeconds()
	rep.Resources = resourceReport("none", nil, 0)
	rep.SLO = SLOReport{Checks: []SLOCheck{}, Pass: true}
	return rep
}

func TestMergeReports(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	// Run a saw 1..100 ms, run b 901..1000 ms. Averaging the two p50s would
	// give ~500 ms; the merged histogram's p50 is at the boundary, ~100 ms.
	if err := writeJSONFile(a, fakeReport(t, 1, 100, true)); err != nil {
		t.Fatal(err)
	}
	// Run b started 2 s after run a.
	rb := fakeReport(t, 901, 1000, true)
	rb.StartedAt = "2026-01-01T00:00:02Z"
	if err := writeJSONFile(b, rb); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.json")
	html := filepath.Join(dir, "m.html")
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"merge", "--json", out, "--html", html, "--max-p99", "2s", a, b}, &stdout, &stderr, nil); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	m, err := ReadReport(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Endpoints) != 2 || m.Comparison == nil || len(m.MergedFrom) != 2 {
		t.Fatalf("merged: %d endpoints, comparison %v, from %v", len(m.Endpoints), m.Comparison, m.MergedFrom)
	}
	e := m.Endpoints[0]
	if e.Counters.Sent != 200 || e.Latency.Count != 200 || e.Histograms["plain_latency"].Total != 200 {
		t.Errorf("merged counts: sent %d, latency %d", e.Counters.Sent, e.Latency.Count)
	}
	if !near(e.Latency.P50, 100, 0.01) || !near(e.Latency.Min, 1, 0.01) || !near(e.Latency.Max, 1000, 0.01) {
		t.Errorf("merged latency %+v", e.Latency)
	}
	// Concurrent generators: rates add up over the time from the first
	// start to the last end (a: 0..10 s, b: 2..12 s, so 200 over 12 s).
	// Timelines align on the wall clock: b's first second is the third.
	if !near(e.Throughput.AchievedRPS, 200.0/12, 1e-9) || len(e.Timeline) != 3 || e.Timeline[0].Completed != 100 ||
		e.Timeline[2].Completed != 100 || e.Timeline[2].T != 3 {
		t.Errorf("merged rps %v, timeline %+v", e.Throughput.AchievedRPS, e.Timeline)
	}
	// Durations survive the round trip through JSON.
	if m.Config.Seconds.Duration != 60 || m.Config.Seconds.Ramp != 2 || m.Config.Seconds.Timeout != 30 ||
		m.Config.Seconds.Interval != 1 || m.Config.Seconds.MaxP99 != 2 {
		t.Errorf("merged config seconds %+v", m.Config.Seconds)
	}
	if m.Config.Users != 20 || m.Generator.CPUSeconds != 2 || len(m.SLO.Checks) != 2 || !m.SLO.Pass {
		t.Errorf("config users %d, generator %+v, slo %+v", m.Config.Users, m.Generator, m.SLO)
	}

	var so, se bytes.Buffer
	if code := Main(context.Background(), []string{"merge", "--max-p99", "500ms", a, b}, &so, &se, nil); code != ExitSLO {
		t.Errorf("merged p99 ~990 ms against a 500 ms SLO: exit %d", code)
	}
	// A run against another target is not merged unless forced.
	other := fakeReport(t, 1, 100, true)
	other.Endpoints[0].URL = "http://elsewhere"
	c := filepath.Join(dir, "c.json")
	if err := writeJSONFile(c, other); err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), []string{"merge", a, c}, &so, &se, nil); code != ExitUsage {
		t.Errorf("runs of different targets merged: exit %d", code)
	}
	if code := Main(context.Background(), []string{"merge", "--force", a, c}, &so, &se, nil); code != ExitOK {
		t.Errorf("--force: exit %d: %s", code, se.String())
	}
	if code := Main(context.Background(), []string{"merge", filepath.Join(dir, "missing.json")}, &so, &se, nil); code != ExitRunError {
		t.Errorf("missing file: exit %d", code)
	}
}
