package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseStartAt(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"2026-03-01T12:00:30Z", now.Add(30 * time.Second), ""},
		{"2026-03-01T13:00:30.250+01:00", now.Add(30*time.Second + 250*time.Millisecond), ""},
		{fmt.Sprint(now.Unix() + 10), now.Add(10 * time.Second), ""},
		{fmt.Sprintf("%d.5", now.Unix()+10), now.Add(10*time.Second + 500*time.Millisecond), ""},
		// Within the tolerance a time just past still starts (at once).
		{"2026-03-01T11:59:59Z", now.Add(-time.Second), ""},
		{"2026-03-01T11:59:50Z", time.Time{}, "in the past"},
		{fmt.Sprint(now.Unix() - 60), time.Time{}, "in the past"},
		{"2026-03-03T12:00:00Z", time.Time{}, "ahead"},
		{"tomorrow", time.Time{}, "want RFC 3339"},
		{"-5", time.Time{}, "want RFC 3339"},
		{"NaN", time.Time{}, "want RFC 3339"},
		{"1772366410.-5", time.Time{}, "want RFC 3339"},
		{"1772366410.1234567891", time.Time{}, "want RFC 3339"},
	}
	for _, tc := range cases {
		got, err := parseStartAt(tc.in, now)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
	// Through the flags: a time long past is a usage error.
	var stderr bytes.Buffer
	if code := Main(context.Background(), []string{"--start-at", "2020-01-01T00:00:00Z"}, &stderr, &stderr, nil); code != ExitUsage {
		t.Errorf("past --start-at: exit %d: %s", code, stderr.String())
	}
}

// TestStartAtWaits cancels a run that waits for its start: it ends at
// once, sending nothing.
func TestStartAtWaits(t *testing.T) {
	m := &mockServer{}
	url := startMock(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"--target", url, "-c", "1", "--requests", "1", "-d", "1s", "--start-at", at,
		"--json", filepath.Join(t.TempDir(), "r.json")}, &stdout, &stderr, nil)
	if code != ExitRunError || !strings.Contains(stderr.String(), "waiting") ||
		!strings.Contains(stderr.String(), "stopped while waiting for --start-at") || m.count.Load() != 0 {
		t.Errorf("exit %d, %d requests sent: %s", code, m.count.Load(), stderr.String())
	}
}

// TestMergeStaggeredRuns runs three generators against one loopback mock,
// told by --start-at to begin 0.4 s apart, and merges their reports: the
// sources are named with their offsets, counters add up and the
// timelines line up on the wall clock.
func TestMergeStaggeredRuns(t *testing.T) {
	url := startMock(t, &mockServer{opts: mockOpts{Tokens: 3, ChunkDelay: time.Millisecond, Latency: 5 * time.Millisecond}})
	dir := t.TempDir()
	t0 := time.Now().Add(time.Second).Truncate(100 * time.Millisecond)
	stagger := 400 * time.Millisecond
	files := make([]string, 3)
	codes := make([]int, 3)
	outs := make([]string, 3)
	var wg sync.WaitGroup
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("run%d.json", i))
		at := t0.Add(time.Duration(i) * stagger)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			// Unix time with a fraction for one run, RFC 3339 for the others.
			start := at.UTC().Format(time.RFC3339Nano)
			if i == 1 {
				start = fmt.Sprintf("%d.%09d", at.Unix(), at.Nanosecond())
			}
			codes[i] = Main(ctx, []string{"--target", url, "-c", "2", "--requests", "5", "-d", "1s", "--ramp", "0",
				"--warmup", "0", "--stream", "0.5", "--interval", "200ms", "--start-at", start, "--json", files[i]},
				&stdout, &stderr, nil)
			outs[i] = stdout.String() + stderr.String()
		}(i)
	}
	wg.Wait()
	// A run on a busy machine may have its last paced request cut by its
	// 1 s cap, so the counts below are compared with what each run says
	// it sent, not with 10.
	var sent int64
	runSent := make([]int64, len(files))
	for i, f := range files {
		if codes[i] != ExitOK {
			t.Fatalf("run %d: exit %d\n%s", i, codes[i], outs[i])
		}
		rep, err := ReadReport(f)
		if err != nil {
			t.Fatal(err)
		}
		started, err := time.Parse(time.RFC3339Nano, rep.StartedAt)
		if err != nil {
			t.Fatal(err)
		}
		// No run may begin before its agreed time.
		if at := t0.Add(time.Duration(i) * stagger); started.Before(at) || rep.ScheduledStart != at.UTC().Format(time.RFC3339Nano) {
			t.Errorf("run %d started %v, scheduled %s, want from %v", i, started, rep.ScheduledStart, at)
		}
		runSent[i] = target(rep).Counters.Sent
		if runSent[i] < 5 {
			t.Errorf("run %d sent %d requests, want most of its 10", i, runSent[i])
		}
		sent += runSent[i]
	}

	merged := filepath.Join(dir, "merged.json")
	var stdout, stderr bytes.Buffer
	page := filepath.Join(dir, "merged.html")
	if code := Main(context.Background(), append([]string{"merge", "--json", merged, "--html", page}, files...), &stdout, &stderr, nil); code != ExitOK {
		t.Fatalf("merge: exit %d: %s", code, stderr.String())
	}
	m, err := ReadReport(merged)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sources) != 3 || len(m.MergedFrom) != 3 {
		t.Fatalf("sources %+v", m.Sources)
	}
	for i, s := range m.Sources {
		// Each run began at its agreed time, give or take a busy
		// machine's timer slack.
		want := (time.Duration(i) * stagger).Seconds()
		if s.File != files[i] || s.Host == "" || math.Abs(s.OffsetSeconds-want) > 0.15 || s.Sent != runSent[i] || s.OK != s.Sent || s.ScheduledStart == "" {
			t.Errorf("source %d: %+v, want offset ~%.1f s", i, s, want)
		}
		if !strings.Contains(stdout.String(), files[i]) {
			t.Errorf("text report does not name %s:\n%s", files[i], stdout.String())
		}
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "<th>offset s</th>") ||
		!strings.Contains(string(b), html.EscapeString(files[2])) {
		t.Errorf("HTML report lacks the sources (%v)", err)
	}
	e := target(m)
	if e.Counters.Sent != sent || e.Latency.Count != sent {
		t.Errorf("merged sent %d, latency count %d; the runs sent %d", e.Counters.Sent, e.Latency.Count, sent)
	}
	// The timeline spans the three runs end to end: the last began four
	// 200 ms intervals after the first, and the first two intervals hold
	// only the first run's answers.
	var done int64
	for _, b := range e.Timeline {
		done += b.Completed
	}
	first, err := ReadReport(files[0])
	if err != nil {
		t.Fatal(err)
	}
	last, err := ReadReport(files[2])
	if err != nil {
		t.Fatal(err)
	}
	ft := target(first).Timeline
	if done != sent || len(e.Timeline) < 4+len(target(last).Timeline) || len(ft) < 2 ||
		e.Timeline[0].Completed+e.Timeline[1].Completed != ft[0].Completed+ft[1].Completed {
		t.Errorf("merged timeline: %d completions in %d intervals: %+v\nfirst run's: %+v", done, len(e.Timeline), e.Timeline, ft)
	}
	var late int
	for _, p := range e.Scatter {
		if p.T >= 0.8 {
			late++
		}
	}
	// The last run's ten requests were due from 0.8 s on the merged axis.
	if late < 10 {
		t.Errorf("%d scatter points from 0.8 s on, want the last run's 10 at least", late)
	}
	if e.ActiveSeconds < 0.8+target(last).ActiveSeconds-0.2 {
		t.Errorf("merged active %.2f s, last run active %.2f s from ~0.8 s", e.ActiveSeconds, target(last).ActiveSeconds)
	}

	// A run of other settings (here: more users) is refused unless forced.
	other := filepath.Join(dir, "other.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := Main(ctx, []string{"--target", url, "-c", "3", "--requests", "5", "-d", "1s", "--ramp", "0",
		"--warmup", "0", "--stream", "0.5", "--interval", "200ms", "--json", other}, &stdout, &stderr, nil); code != ExitOK {
		t.Fatalf("other run: exit %d", code)
	}
	stderr.Reset()
	if code := Main(context.Background(), []string{"merge", files[0], other}, &stdout, &stderr, nil); code != ExitUsage ||
		!strings.Contains(stderr.String(), "users 2 vs 3") {
		t.Errorf("merge of different loads: exit %d: %s", code, stderr.String())
	}
	if code := Main(context.Background(), []string{"merge", "--force", files[0], other}, &stdout, &stderr, nil); code != ExitOK {
		t.Errorf("merge --force: exit %d: %s", code, stderr.String())
	}
}
