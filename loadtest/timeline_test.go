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
		tl.add(start.Add(ev.at), ev.failed, 10)
	}
	got := tl.buckets(2500 * time.Millisecond)
	want := []Bucket{{T: 1, Completed: 2, Errors: 1, Bytes: 30}, {T: 2, Completed: 1, Bytes: 10}, {T: 2.5, Completed: 1, Bytes: 10}}
	if len(got) != len(want) {
		t.Fatalf("buckets %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("bucket %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Events past the span land in the last slot rather than being lost.
	all := tl.buckets(time.Hour)
	if last := all[len(all)-1]; last.Completed != 1 {
		t.Errorf("overflow slot %+v", last)
	}
}
