package loadtest

import (
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record microseconds from 1 µs to one hour with three
// significant digits: 0.1% resolution is finer than anything loopback
// jitter lets us claim.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histSigFigs = 3
)

func newHist() *hdr.Histogram { return hdr.New(histLowest, histHighest, histSigFigs) }

// recordDur records d in microseconds, clamping to the trackable range so
// an outlier is counted at the ceiling rather than dropped.
func recordDur(h *hdr.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	if us > histHighest {
		us = histHighest
	}
	_ = h.RecordValue(us) // cannot fail after clamping
}

// HistJSON is the serialized form of an hdrhistogram Export snapshot. Counts
// are stored sparsely as [index, count] pairs of the snapshot's dense
// counts array, which is mostly zeros (tens of thousands of buckets).
type HistJSON struct {
	Unit    string     `json:"unit"`
	Lowest  int64      `json:"lowest"`
	Highest int64      `json:"highest"`
	SigFigs int64      `json:"sigfigs"`
	Total   int64      `json:"total"`
	Counts  [][2]int64 `json:"counts"`
}

// exportHist serializes h.
func exportHist(h *hdr.Histogram) HistJSON {
	s := h.Export()
	out := HistJSON{Unit: "us", Lowest: s.LowestTrackableValue, Highest: s.HighestTrackableValue,
		SigFigs: s.SignificantFigures, Total: h.TotalCount(), Counts: [][2]int64{}}
	for i, c := range s.Counts {
		if c != 0 {
			out.Counts = append(out.Counts, [2]int64{int64(i), c})
		}
	}
	return out
}

// importHist rebuilds a histogram from its serialized snapshot.
func importHist(j HistJSON) (*hdr.Histogram, error) {
	if j.Unit != "us" {
		return nil, fmt.Errorf("histogram unit %q, want \"us\"", j.Unit)
	}
	size := 0
	for _, p := range j.Counts {
		if p[0] < 0 || p[1] < 0 {
			return nil, fmt.Errorf("histogram count pair %v negative", p)
		}
		if int(p[0]) >= size {
			size = int(p[0]) + 1
		}
	}
	// Check the geometry before sizing anything from untrusted input.
	geom := &hdr.Snapshot{LowestTrackableValue: j.Lowest, HighestTrackableValue: j.Highest, SignificantFigures: j.SigFigs}
	if err := geom.Validate(); err != nil {
		return nil, fmt.Errorf("histogram snapshot: %w", err)
	}
	if n := len(hdr.New(j.Lowest, j.Highest, int(j.SigFigs)).Export().Counts); size > n {
		return nil, fmt.Errorf("histogram index %d beyond the geometry's %d counts", size-1, n)
	}
	counts := make([]int64, size)
	var total int64
	for _, p := range j.Counts {
		counts[p[0]] = p[1]
		total += p[1]
	}
	if total != j.Total {
		return nil, fmt.Errorf("histogram counts sum to %d, total says %d", total, j.Total)
	}
	snap := &hdr.Snapshot{LowestTrackableValue: j.Lowest, HighestTrackableValue: j.Highest,
		SignificantFigures: j.SigFigs, Counts: counts}
	if err := snap.Validate(); err != nil {
		return nil, fmt.Errorf("histogram snapshot: %w", err)
	}
	return hdr.Import(snap), nil
}

// Summary is the distribution summary of one histogram, in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func usToMs(v int64) float64 { return float64(v) / 1000 }

// summarize reads the standard percentiles; an empty histogram yields a zero
// Summary with Count 0.
func summarize(h *hdr.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.TotalCount(),
		Min:   usToMs(h.Min()),
		Mean:  h.Mean() / 1000,
		P50:   usToMs(h.ValueAtQuantile(50)),
		P90:   usToMs(h.ValueAtQuantile(90)),
		P95:   usToMs(h.ValueAtQuantile(95)),
		P99:   usToMs(h.ValueAtQuantile(99)),
		P999:  usToMs(h.ValueAtQuantile(99.9)),
		Max:   usToMs(h.Max()),
	}
}
