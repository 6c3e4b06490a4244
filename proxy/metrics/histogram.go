package metrics

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket upper bounds. VictoriaMetrics' own Histogram exports "vmrange"
// buckets that only MetricsQL can turn into quantiles; a stock Prometheus
// needs cumulative "le" buckets for histogram_quantile, so durations use
// this small fixed-bucket histogram instead, exported through the Set's
// metrics-writer hook.
var (
	// latencyBuckets spans a cached reply to a long generation.
	latencyBuckets = []time.Duration{
		5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 20 * time.Second,
		30 * time.Second, 60 * time.Second, 120 * time.Second, 300 * time.Second,
	}
	// overheadBuckets resolves the proxy's own time, tens of microseconds
	// when healthy.
	overheadBuckets = []time.Duration{
		25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
		500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		250 * time.Millisecond, time.Second,
	}
)

// histogram counts durations into fixed buckets with atomic adds only.
// counts[i] holds observations in (bounds[i-1], bounds[i]]; the last slot is
// +Inf. Buckets are stored non-cumulative and summed at scrape time.
type histogram struct {
	bounds []time.Duration
	counts []atomic.Uint64
	sumNs  atomic.Int64
}

func newHistogram(bounds []time.Duration) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// histFamily is every labelled histogram of one metric name.
type histFamily struct {
	name string
	help string
	mu   sync.Mutex
	rows []histRow
}

type histRow struct {
	labels string // `a="x",b="y"`, already escaped
	h      *histogram
}

func (f *histFamily) add(labels string, bounds []time.Duration) *histogram {
	h := newHistogram(bounds)
	f.mu.Lock()
	f.rows = append(f.rows, histRow{labels: labels, h: h})
	f.mu.Unlock()
	return h
}

// appendTo writes the family in Prometheus text format.
func (f *histFamily) appendTo(b []byte) []byte {
	f.mu.Lock()
	rows := f.rows[:len(f.rows):len(f.rows)]
	f.mu.Unlock()
	if len(rows) == 0 {
		return b
	}
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, " histogram\n"...)
	for _, r := range rows {
		var cum uint64
		for i := range r.h.counts {
			cum += r.h.counts[i].Load()
			b = append(b, f.name...)
			b = append(b, "_bucket{"...)
			b = append(b, r.labels...)
			b = append(b, `,le="`...)
			if i < len(r.h.bounds) {
				b = strconv.AppendFloat(b, r.h.bounds[i].Seconds(), 'g', -1, 64)
			} else {
				b = append(b, "+Inf"...)
			}
			b = append(b, `"} `...)
			b = strconv.AppendUint(b, cum, 10)
			b = append(b, '\n')
		}
		b = append(b, f.name...)
		b = append(b, "_sum{"...)
		b = append(b, r.labels...)
		b = append(b, "} "...)
		b = strconv.AppendFloat(b, float64(r.h.sumNs.Load())/float64(time.Second), 'g', -1, 64)
		b = append(b, '\n')
		// _count equals the +Inf bucket of this same snapshot, so the
		// exposition stays self-consistent under concurrent updates.
		b = append(b, f.name...)
		b = append(b, "_count{"...)
		b = append(b, r.labels...)
		b = append(b, "} "...)
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	return b
}

// scrapeBufs recycles exposition buffers between scrapes.
var scrapeBufs = sync.Pool{New: func() any { return new([]byte) }}

func writeFamilies(w io.Writer, fams []*histFamily) {
	bp := scrapeBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for _, f := range fams {
		b = f.appendTo(b)
	}
	if len(b) > 0 {
		_, _ = w.Write(b)
	}
	*bp = b
	scrapeBufs.Put(bp)
}
