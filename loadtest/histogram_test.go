package loadtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestHistogramMerge records the same values spread over several worker
// recorders and in one histogram: the merge must equal the single one.
func TestHistogramMerge(t *testing.T) {
	const workers = 4
	recs := make([]*recorder, workers)
	for i := range recs {
		recs[i] = newRecorder(time.Millisecond)
	}
	single := newHist()
	base := time.Unix(0, 0)
	for i := 0; i < 10000; i++ {
		d := time.Duration(i%997+1) * 37 * time.Microsecond
		if i%500 == 0 {
			d = time.Duration(i) * time.Millisecond // a few slow outliers
		}
		recordDur(single, d)
		s := sample{intended: base, sent: base, end: base.Add(d)}
		recs[i%workers].record(&s, nil)
	}
	h := newHists()
	c := Counters{Errors: map[string]int64{}}
	for _, r := range recs {
		r.mergeInto(&h, &c)
	}
	if !h.PlainLatency.Equals(single) {
		t.Fatalf("merged histogram differs: %+v vs %+v", summarize(h.PlainLatency), summarize(single))
	}
	if c.Sent != 10000 || c.OK != 10000 {
		t.Errorf("merged counters %+v", c)
	}
	// Merging is not averaging: the merged p99.9 is the combined one, not
	// the mean of per-worker values.
	if got, want := summarize(h.PlainLatency), summarize(single); got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
}

func TestHistogramExportImport(t *testing.T) {
	h := newHist()
	for _, us := range []int64{0, 1, 2, 999, 1000, 1001, 123456, histHighest, histHighest + 5} {
		recordDur(h, time.Duration(us)*time.Microsecond)
	}
	raw, err := json.Marshal(exportHist(h))
	if err != nil {
		t.Fatal(err)
	}
	var j HistJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	back, err := importHist(j)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equals(h) || back.TotalCount() != 9 || back.Max() < histHighest-histHighest/1000 {
		t.Errorf("round trip lost data: %+v vs %+v", summarize(back), summarize(h))
	}
	if len(j.Counts) > 9 {
		t.Errorf("sparse export holds %d pairs for 9 values", len(j.Counts))
	}
}

func TestHistogramImportRejects(t *testing.T) {
	good := exportHist(newHist())
	tests := []struct {
		name string
		mod  func(j *HistJSON)
		want string
	}{
		{"unit", func(j *HistJSON) { j.Unit = "ms" }, "unit"},
		{"negative count", func(j *HistJSON) { j.Counts = [][2]int64{{3, -1}}; j.Total = -1 }, "negative"},
		{"total mismatch", func(j *HistJSON) { j.Counts = [][2]int64{{3, 2}}; j.Total = 5 }, "total"},
		{"index beyond geometry", func(j *HistJSON) { j.Counts = [][2]int64{{1 << 30, 1}}; j.Total = 1 }, "beyond"},
		{"bad sigfigs", func(j *HistJSON) { j.SigFigs = 9 }, "significant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := good
			j.Counts = nil
			tc.mod(&j)
			if _, err := importHist(j); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
