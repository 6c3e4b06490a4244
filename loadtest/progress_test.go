package loadtest

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var out bytes.Buffer
		start := time.Now()
		ep := &endpoint{recs: []*recorder{newRecorder(time.Millisecond)}}
		s := sample{intended: start, sent: start, end: start.Add(7 * time.Millisecond)}
		ep.recs[0].record(&s, nil)
		s.class = "timeout"
		ep.recs[0].record(&s, nil)
		r := &runner{eps: []*endpoint{ep}, start: start}
		p := &progress{w: &out, tty: tty, r: r, capAt: 10 * time.Second, total: 50}
		p.tick(start.Add(time.Second))
		p.tick(start.Add(2 * time.Second))
		p.finish()
		got := out.String()
		for _, want := range []string{"2/50 req", "2.0 req/s", "errors 1", "p99 7.0", "elapsed 1.0s", "remaining <= 9s", "0.0 req/s"} {
			if !strings.Contains(got, want) {
				t.Errorf("tty=%v: %q lacks %q", tty, got, want)
			}
		}
		if tty != strings.Contains(got, "\r") || strings.Count(got, "\n") != map[bool]int{true: 1, false: 2}[tty] {
			t.Errorf("tty=%v: wrong line handling %q", tty, got)
		}
	}
}
