package loadtest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// runTarget parses args (with --target url) and executes the run.
func runTarget(t *testing.T, url string, args ...string) *Report {
	t.Helper()
	cfg, err := parseConfig(append([]string{"--target", url}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := execute(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestTTFTCorrectedUnderStall stalls a streaming target for 2 s in an
// open-loop run on one connection. The ~200 streams due during the stall
// wait for it: their TTFT and header times, counted from when they were
// due, show the stall, and a 500 ms TTFT SLO fails; the same times counted
// from the actual send hide it.
func TestTTFTCorrectedUnderStall(t *testing.T) {
	const stall = 2 * time.Second
	m := &mockServer{opts: mockOpts{Tokens: 2}}
	m.before = func(n int64) {
		if n == 50 {
			time.Sleep(stall) // the fixture's stall, not an assertion
		}
	}
	url := startMock(t, m)
	rep := runTarget(t, url, "--rate", "100", "--users", "1", "--requests", "300", "-d", "20s",
		"--ramp", "0", "--stream", "1", "--max-ttft-p99", "500ms")
	e := rep.Endpoints[0]
	if e.Counters.OK != 300 {
		t.Fatalf("ok %d of 300, errors %v", e.Counters.OK, e.Counters.Errors)
	}
	t.Logf("ttft %+v\nuncorrected %+v", e.TTFT, e.TTFTUncorrected)
	if e.TTFT.P99 < 1500 || e.Headers.P99 < 1500 {
		t.Errorf("corrected TTFT p99 %.1f ms, headers p99 %.1f ms: the 2 s stall does not show", e.TTFT.P99, e.Headers.P99)
	}
	if e.TTFTUncorrected.P99 > 1000 || e.TTFTUncorrected.Max < 1900 {
		t.Errorf("uncorrected TTFT p99 %.1f ms max %.1f: want the stall hidden at p99 and the stalled stream at max",
			e.TTFTUncorrected.P99, e.TTFTUncorrected.Max)
	}
	if rep.SLO.Pass {
		t.Errorf("a 500 ms TTFT p99 SLO passed with corrected TTFT p99 %.0f ms: %+v", e.TTFT.P99, rep.SLO)
	}
}

// TestKindsHaveSeparateHistograms serves plain answers after 300 ms and
// streams at once: each kind's percentiles are its own.
func TestKindsHaveSeparateHistograms(t *testing.T) {
	url := startMock(t, &mockServer{opts: mockOpts{Tokens: 3, PlainLatency: 300 * time.Millisecond}})
	rep := runTarget(t, url, "--users", "4", "--requests", "6", "-d", "3s", "--ramp", "0", "--stream", "0.5",
		"--max-p99", "200ms")
	e := rep.Endpoints[0]
	if e.Plain.Latency.Count != 12 || e.Stream.Latency.Count != 12 {
		t.Fatalf("plain %d, stream %d latencies; want 12 each", e.Plain.Latency.Count, e.Stream.Latency.Count)
	}
	if e.Plain.Latency.Min < 300 {
		t.Errorf("plain latency min %.1f ms below the mock's 300 ms", e.Plain.Latency.Min)
	}
	// Mixed, the streams' p50 would be pulled toward the plain answers.
	if e.Stream.Latency.P50 > 150 {
		t.Errorf("stream latency p50 %.1f ms: the plain answers leak into it", e.Stream.Latency.P50)
	}
	var plain, stream *SLOCheck
	for i, c := range rep.SLO.Checks {
		switch c.Name {
		case "p99_ms.plain":
			plain = &rep.SLO.Checks[i]
		case "p99_ms.stream":
			stream = &rep.SLO.Checks[i]
		}
	}
	if plain == nil || stream == nil || plain.Pass || !stream.Pass {
		t.Errorf("per-kind p99 SLOs: %+v", rep.SLO.Checks)
	}
}

// TestOpenLoopRespectsCap asks for 200 req/s for 1 s from one worker
// against a target that takes 50 ms per answer (20 req/s). The old pacer
// sent every request due before the cap, late, and ran for ~10 s; the run
// must end at the cap and report what it could not send.
func TestOpenLoopRespectsCap(t *testing.T) {
	url := startMock(t, &mockServer{opts: mockOpts{Tokens: 2, Latency: 50 * time.Millisecond}})
	start := time.Now()
	rep := runTarget(t, url, "--rate", "200", "--users", "1", "--requests", "100000", "-d", "1s", "--ramp", "0", "--stream", "0")
	took := time.Since(start)
	e := rep.Endpoints[0]
	t.Logf("took %v, sent %d of %d scheduled", took, e.Counters.Sent, e.Throughput.Scheduled)
	// 1 s cap plus the one answer in flight at it; the rest is slack for a
	// loaded machine, far below the ~10 s of a run that overran.
	if took > 3*time.Second || rep.Generator.WallSeconds > 3 {
		t.Errorf("a 1 s open-loop run took %v", took)
	}
	if e.Counters.Sent > 40 || e.Throughput.Scheduled < 150 {
		t.Errorf("sent %d, scheduled %d: want ~20 sent of ~200 due", e.Counters.Sent, e.Throughput.Scheduled)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "not sent before the cap") {
		t.Errorf("warnings %q do not say requests were left unsent", rep.Warnings)
	}
}

// TestNothingSucceededFails: a target that refuses every request (a
// missing key) fails the run even with the error-rate SLO turned off, and
// fails it by default.
func TestNothingSucceededFails(t *testing.T) {
	url := startMock(t, &mockServer{status: 401})
	for _, extra := range [][]string{nil, {"--max-error-rate", "-1"}} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--target", url, "-c", "2", "--requests", "3", "-d", "1s", "--ramp", "0"}, extra...)
		code := Main(context.Background(), args, &stdout, &stderr, nil)
		if code != ExitSLO {
			t.Errorf("%v: exit %d, want %d\n%s", extra, code, ExitSLO, stdout.String())
		}
		if !strings.Contains(stdout.String(), "no request succeeded") || !strings.Contains(stdout.String(), "status_401=6") {
			t.Errorf("%v: report does not say nothing succeeded:\n%s", extra, stdout.String())
		}
	}
}

// TestCapGraceCutsSlowRequests: answers that take 3 s in a run capped at
// 1 s with 200 ms of grace are cut at 1.2 s, counted apart from errors,
// and the run fails because nothing succeeded.
func TestCapGraceCutsSlowRequests(t *testing.T) {
	url := startMock(t, &mockServer{opts: mockOpts{Latency: 3 * time.Second}})
	start := time.Now()
	rep := runTarget(t, url, "-c", "2", "--requests", "1", "-d", "1s", "--grace", "200ms", "--ramp", "0")
	took := time.Since(start)
	c := rep.Endpoints[0].Counters
	if took > 2500*time.Millisecond || c.CutAtCap != 2 || c.Sent != 0 || len(c.Errors) != 0 {
		t.Errorf("took %v; counters %+v", took, c)
	}
	if rep.SLO.Pass {
		t.Errorf("a run in which nothing succeeded passed: %+v", rep.SLO)
	}
}

// TestClosedLoopStallWarning: a target that stalls 1.5 s once in a closed
// loop shows up as a warning, since a closed loop hides what a stall did to
// the requests it kept from being sent.
func TestClosedLoopStallWarning(t *testing.T) {
	m := &mockServer{opts: mockOpts{Tokens: 2}}
	m.before = func(n int64) {
		if n == 5 {
			time.Sleep(1500 * time.Millisecond) // the fixture's stall
		}
	}
	url := startMock(t, m)
	rep := runTarget(t, url, "-c", "2", "--requests", "20", "-d", "3s", "--ramp", "0", "--stream", "0")
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "closed loop saw a stall") {
		t.Errorf("no stall warning: %q", rep.Warnings)
	}
	// A run without a stall has none.
	calm := runTarget(t, startMock(t, &mockServer{opts: mockOpts{Tokens: 2}}), "-c", "2", "--requests", "5", "-d", "1s", "--ramp", "0")
	if len(calm.Warnings) != 0 {
		t.Errorf("warnings on a calm run: %q", calm.Warnings)
	}
}
