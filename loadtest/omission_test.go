package loadtest

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestCoordinatedOmission stalls the target for one second in the middle of
// an open-loop run with one connection. The requests that should have been
// sent during the stall wait for it, so latency measured from their intended
// send times shows the stall at p99, while latency measured from the actual
// send hides it (only the one stalled request is slow).
func TestCoordinatedOmission(t *testing.T) {
	const stall = time.Second
	m := &mockServer{opts: mockOpts{Tokens: 2}}
	m.before = func(n int64) {
		if n == 100 {
			time.Sleep(stall) // the fixture's stall, not an assertion
		}
	}
	url := startMock(t, m)
	cfg, err := parseConfig([]string{"--target", url, "--rate", "200", "--users", "1", "--requests", "400",
		"--duration", "20s", "--ramp", "0", "--stream", "0", "--interval", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := execute(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Endpoints[0]
	if e.Counters.OK != 400 {
		t.Fatalf("ok %d of 400, errors %v", e.Counters.OK, e.Counters.Errors)
	}
	t.Logf("corrected %+v\nuncorrected %+v\nlate %d", e.Latency, e.LatencyUncorrected, e.Counters.Late)
	// About 200 sends fall due during the stall, delayed by up to one second:
	// the slowest 1% waited most of it.
	if e.Latency.P99 < 700 || e.Latency.Max < 900 {
		t.Errorf("corrected p99 %.1f ms, max %.1f ms: the stall does not show", e.Latency.P99, e.Latency.Max)
	}
	if e.LatencyUncorrected.Max < 900 {
		t.Errorf("uncorrected max %.1f ms: the stalled request itself is missing", e.LatencyUncorrected.Max)
	}
	if e.LatencyUncorrected.P99 > 300 {
		t.Errorf("uncorrected p99 %.1f ms: expected it to hide the stall", e.LatencyUncorrected.P99)
	}
	if e.Counters.Late < 100 {
		t.Errorf("%d late sends, want the ~200 that fell due during the stall", e.Counters.Late)
	}
	if e.Throughput.TargetRPS != 200 || e.Throughput.Scheduled != 400 {
		t.Errorf("throughput %+v", e.Throughput)
	}
}
