package loadtest

import (
	"math"
	"testing"
	"time"
)

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Abs(b)+1e-9 }

// knownEndpoint holds latencies 1..1000 ms, one each, and fixed counters.
func knownEndpoint(name string, offset time.Duration) *endpointData {
	d := &endpointData{name: name, url: "http://x", h: newHists(), active: 10, targetRPS: 0,
		c: Counters{Sent: 1010, OK: 1000, Streamed: 400, Chunks: 5000, Bytes: 1_000_000, OutputTokens: 20000,
			Truncated: 4, Errors: map[string]int64{"status_500": 6, classTruncated: 4}},
		timeline: []Bucket{{T: 1, Completed: 100}, {T: 2, Completed: 100, Errors: 10}}}
	for i := 1; i <= 1000; i++ {
		recordDur(d.h.PlainLatency, time.Duration(i)*time.Millisecond+offset)
		recordDur(d.h.PlainLatencyUncorrected, time.Duration(i)*time.Millisecond)
	}
	return d
}

func TestReportArithmetic(t *testing.T) {
	r := knownEndpoint("target", 0).report()
	checks := []struct {
		name      string
		got, want float64
	}{
		{"error rate", r.ErrorRate, 10.0 / 1010},
		{"achieved rps", r.Throughput.AchievedRPS, 101},
		{"ok rps", r.Throughput.OKRPS, 100},
		{"chunks/s", r.Rates.ChunksPerS, 500},
		{"bytes/s", r.Rates.BytesPerS, 100_000},
		{"tokens/s", r.Rates.OutputTokensPerS, 2000},
		{"min", r.Latency.Min, 1},
		{"mean", r.Latency.Mean, 500.5},
		{"p50", r.Latency.P50, 500},
		{"p90", r.Latency.P90, 900},
		{"p95", r.Latency.P95, 950},
		{"p99", r.Latency.P99, 990},
		{"p99.9", r.Latency.P999, 999},
		{"max", r.Latency.Max, 1000},
	}
	for _, c := range checks {
		// Three significant digits: 0.1% resolution.
		if !near(c.got, c.want, 0.001) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if r.Latency.Count != 1000 || r.TTFT.Count != 0 || r.TTFT != (Summary{}) {
		t.Errorf("counts: latency %d, empty TTFT %+v", r.Latency.Count, r.TTFT)
	}
}

func TestComparison(t *testing.T) {
	target := knownEndpoint("target", 2*time.Millisecond).report()
	base := knownEndpoint("baseline", 0).report()
	base.Throughput.OKRPS = 125
	c := compare(&target, &base)
	// Near 500 ms a bucket is ~0.25 ms wide.
	if math.Abs(c.AddedP50Ms-2) > 0.5 || math.Abs(c.AddedP99Ms-2) > 0.5 || !near(c.ThroughputRatio, 0.8, 1e-9) {
		t.Errorf("comparison %+v, want +2 ms p50/p99 and ratio 0.8", c)
	}
	// Measures one side lacks (no streams here) are left out, not reported
	// as the other side's whole value.
	if a, ok := c.Added["plain_latency"]; !ok || math.Abs(a.P90-2) > 0.5 {
		t.Errorf("added plain latency %+v", c.Added)
	}
	if _, ok := c.Added["ttft"]; ok {
		t.Errorf("added TTFT without streams: %+v", c.Added)
	}
}

// streamsAt is an open-stream count that rises over a run and swings.
func streamsAt(t float64) float64 { return math.Round(2*t+40*math.Sin(t/3)) + 40 }

// withStreams sets each sample's open streams to streamsAt.
func withStreams(s []ResourceSample) []ResourceSample {
	for i := range s {
		s[i].OpenStreams = int64(streamsAt(s[i].T))
	}
	return s
}

func TestLeakVerdict(t *testing.T) {
	const mib = 1 << 20
	series := func(n int, f func(t float64) float64) []ResourceSample {
		out := make([]ResourceSample, n)
		for i := range out {
			tt := float64(i + 1)
			out[i] = ResourceSample{T: tt, RSSBytes: uint64(f(tt))}
		}
		return out
	}
	tests := []struct {
		name    string
		s       []ResourceSample
		warmup  float64
		verdict string
		slope   float64
	}{
		// A big one-off allocation during warm-up, then flat with jitter.
		{"peak then flat", series(60, func(t float64) float64 {
			if t < 10 {
				return 50 * mib * t / 10
			}
			return 200*mib + float64(int(t)%3)*100*1024
		}), 10, "stable", 0},
		{"steady growth", series(60, func(t float64) float64 { return 100*mib + t*512*1024 }), 10, "growing", 512 * 1024},
		{"tiny growth on a big process", series(60, func(t float64) float64 { return 1000*mib + t*10*1024 }), 10, "stable", 10 * 1024},
		// Pools fill for 20 s after the warm-up, then RSS is flat for 40 s.
		{"rise then plateau", series(60, func(t float64) float64 {
			return 100*mib + math.Min(t, 30)*mib
		}), 10, "stable", 0},
		// RSS follows the open streams (10 KiB each), which rise over the
		// run (2.5 MiB more) and swing: load, not a leak. A fit in time
		// alone called it growing.
		{"memory follows the load", withStreams(series(60, func(t float64) float64 {
			return 20*mib + streamsAt(t)*10*1024
		})), 10, "stable", 0},
		// The same load plus 256 KiB/s leaking.
		{"leak under varying load", withStreams(series(60, func(t float64) float64 {
			return 20*mib + streamsAt(t)*10*1024 + t*256*1024
		})), 10, "growing", 256 * 1024},
		{"too few samples", series(11, func(t float64) float64 { return t * mib }), 10, "insufficient-data", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := leakVerdict(tc.s, tc.warmup)
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %q, want %q (%+v)", r.Verdict, tc.verdict, r)
			}
			if tc.slope != 0 && !near(r.SlopeBytesPerS, tc.slope, 1e-6) {
				t.Errorf("slope %v, want %v", r.SlopeBytesPerS, tc.slope)
			}
		})
	}
}

func TestSLO(t *testing.T) {
	r := knownEndpoint("target", 0).report()
	r.TTFT = Summary{Count: 1, P99: 80}
	tests := []struct {
		name   string
		cfg    Config
		pass   bool
		checks int
	}{
		{"none asked", Config{MaxErrorRate: -1}, true, 0},
		{"error rate ok", Config{MaxErrorRate: 0.01}, true, 1},
		{"error rate fails", Config{MaxErrorRate: 0.005}, false, 1},
		{"p99 fails", Config{MaxErrorRate: -1, MaxP99: 500 * time.Millisecond}, false, 1},
		{"p99 ok, ttft fails", Config{MaxErrorRate: -1, MaxP99: time.Second, MaxTTFTP99: 50 * time.Millisecond}, false, 2},
		{"all ok", Config{MaxErrorRate: 0.02, MaxP99: time.Second, MaxTTFTP99: 100 * time.Millisecond}, true, 3},
	}
	for _, tc := range tests {
		got := evaluateSLO(&tc.cfg, &r)
		if got.Pass != tc.pass || len(got.Checks) != tc.checks {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}

func TestOperatorFigures(t *testing.T) {
	var r ResourceReport
	for i := 0; i < 20; i++ {
		open := int64(i * 5 % 40)
		r.Samples = append(r.Samples, ResourceSample{T: float64(i), OpenStreams: open,
			RSSBytes: uint64(10<<20 + open*7*1024 + int64(i%2)*512)})
	}
	target := EndpointReport{Counters: Counters{Sent: 4000}}
	r.operatorFigures(2, &target)
	o := r.Operator
	if !near(o.CPUPerRequestUs, 500, 1e-9) || o.MaxOpenStreams != 35 || math.Abs(o.RSSPerOpenStreamBytes-7*1024) > 50 {
		t.Errorf("figures %+v, want 500 us per request and about 7 KiB per stream", o)
	}
	// Too few distinct stream counts: no per-stream figure.
	r.Samples = r.Samples[:1]
	r.Samples = append(r.Samples, ResourceSample{T: 2, OpenStreams: 1, RSSBytes: 1 << 30}, ResourceSample{T: 3, OpenStreams: 2})
	r.operatorFigures(2, &target)
	if r.Operator.RSSPerOpenStreamBytes != 0 {
		t.Errorf("per-stream figure %v from 3 streams", r.Operator.RSSPerOpenStreamBytes)
	}
}
