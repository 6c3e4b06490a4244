package loadtest

import (
	"testing"
	"time"
)

func TestTimelineBuckets(t *testing.T) {
	start := time.Unix(100, 0)
	tl := newTimeline(start, time.Second, 3*time.Second)
	for _, ev := range []struct {
		at     time.Duration
		failed bool
	}{{100 * time.Millisecond, false}, {900 * time.Millisecond, true}, {1500 * time.Millisecond, false},
		{2200 * time.Millisecond, false}, {-time.Second, false}, {time.Hour, false}} {
		tl.add(start.Add(ev.at), ev.failed, 10, 40*time.Millisecond)
	}
	got := tl.buckets(2500 * time.Millisecond)
	want := []Bucket{{T: 1, Completed: 2, Errors: 1, Bytes: 30}, {T: 2, Completed: 1, Bytes: 10}, {T: 2.5, Completed: 1, Bytes: 10}}
	if len(got) != len(want) {
		t.Fatalf("buckets %+v", got)
	}
	for i := range want {
		g := got[i]
		// 40 ms lands in the bucket [38.9, 43.6) ms, read at its middle.
		if g.P50Ms < 38 || g.P50Ms > 44 || g.P99Ms != g.P50Ms {
			t.Errorf("bucket %d percentiles %+v", i, g)
		}
		g.P50Ms, g.P90Ms, g.P99Ms = 0, 0, 0
		if g != want[i] {
			t.Errorf("bucket %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Per-interval percentiles within the buckets' 12.5% resolution.
	one := newTimeline(start, time.Second, time.Second)
	for v := 1; v <= 1000; v++ {
		one.add(start, false, 0, time.Duration(v)*time.Millisecond)
	}
	b := one.buckets(time.Second)[0]
	for _, c := range []struct{ got, want float64 }{{b.P50Ms, 500}, {b.P90Ms, 900}, {b.P99Ms, 990}} {
		if c.got < c.want*0.9 || c.got > c.want*1.1 {
			t.Errorf("interval percentiles %+v, want about 500/900/990 ms", b)
		}
	}
	// Events past the span land in the last slot rather than being lost.
	all := tl.buckets(time.Hour)
	if last := all[len(all)-1]; last.Completed != 1 {
		t.Errorf("overflow slot %+v", last)
	}
}
