package loadtest

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Error classes besides HTTP statuses (which are "status_<code>").
const (
	classTimeout     = "timeout"
	classConnect     = "connect"
	classTruncated   = "truncated"
	classStreamError = "stream_error"
	classInvalidBody = "invalid_body"
	classOther       = "other"
)

// Counters are the additive totals of one endpoint.
type Counters struct {
	Sent         int64 `json:"sent"`
	OK           int64 `json:"ok"`
	Streamed     int64 `json:"streamed"`
	Late         int64 `json:"late_sends"`
	Chunks       int64 `json:"chunks"`
	Bytes        int64 `json:"bytes"`
	OutputTokens int64 `json:"output_tokens"`
	Truncated    int64 `json:"truncated"`
	// Errors maps an error class to its count.
	Errors map[string]int64 `json:"errors"`
}

func (c *Counters) add(o *Counters) {
	c.Sent += o.Sent
	c.OK += o.OK
	c.Streamed += o.Streamed
	c.Late += o.Late
	c.Chunks += o.Chunks
	c.Bytes += o.Bytes
	c.OutputTokens += o.OutputTokens
	c.Truncated += o.Truncated
	if c.Errors == nil {
		c.Errors = map[string]int64{}
	}
	for k, v := range o.Errors {
		c.Errors[k] += v
	}
}

// ErrorTotal sums every error class.
func (c *Counters) ErrorTotal() int64 {
	var n int64
	for _, v := range c.Errors {
		n += v
	}
	return n
}

// errorClasses returns the classes sorted by count, then name, for stable
// output.
func (c *Counters) errorClasses() []string {
	keys := make([]string, 0, len(c.Errors))
	for k := range c.Errors {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := c.Errors[keys[i]], c.Errors[keys[j]]
		if a != b {
			return a > b
		}
		return keys[i] < keys[j]
	})
	return keys
}

// hists groups the histograms one endpoint keeps.
type hists struct {
	Latency            *hdr.Histogram // from intended send time
	LatencyUncorrected *hdr.Histogram // from actual send time
	Headers            *hdr.Histogram
	TTFT               *hdr.Histogram
	ChunkGap           *hdr.Histogram
	TPOT               *hdr.Histogram
}

func newHists() hists {
	return hists{newHist(), newHist(), newHist(), newHist(), newHist(), newHist()}
}

func (h *hists) all() []*hdr.Histogram {
	return []*hdr.Histogram{h.Latency, h.LatencyUncorrected, h.Headers, h.TTFT, h.ChunkGap, h.TPOT}
}

func (h *hists) merge(o *hists) {
	dst, src := h.all(), o.all()
	for i := range dst {
		dst[i].Merge(src[i])
	}
}

// sample is what one finished request contributes.
type sample struct {
	intended, sent, end time.Time
	streamed            bool
	class               string // "" on success
	headers             time.Duration
	ttft                time.Duration // 0 when no content event arrived
	tpot                time.Duration // 0 when fewer than two tokens
	chunks, bytes       int64
	tokens              int64
	truncated           bool
}

// recorder is one worker's private histograms and counters. The mutex is
// uncontended except when the progress line takes a snapshot.
type recorder struct {
	mu   sync.Mutex
	h    hists
	c    Counters
	late time.Duration
}

func newRecorder(lateAfter time.Duration) *recorder {
	return &recorder{h: newHists(), c: Counters{Errors: map[string]int64{}}, late: lateAfter}
}

// record adds one finished request; gaps are the inter-chunk gaps the worker
// buffered while reading the stream.
func (r *recorder) record(s *sample, gaps []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c.Sent++
	if s.sent.Sub(s.intended) > r.late {
		r.c.Late++
	}
	r.c.Bytes += s.bytes
	r.c.Chunks += s.chunks
	r.c.OutputTokens += s.tokens
	if s.streamed {
		r.c.Streamed++
	}
	if s.truncated {
		r.c.Truncated++
	}
	for _, g := range gaps {
		recordDur(r.h.ChunkGap, g)
	}
	// A plain answer is read whole before the client returns, so only a
	// stream tells when its headers arrived.
	if s.headers > 0 && s.streamed {
		recordDur(r.h.Headers, s.headers)
	}
	if s.ttft > 0 {
		recordDur(r.h.TTFT, s.ttft)
	}
	if s.class != "" {
		r.c.Errors[s.class]++
		return
	}
	r.c.OK++
	recordDur(r.h.Latency, s.end.Sub(s.intended))
	recordDur(r.h.LatencyUncorrected, s.end.Sub(s.sent))
	if s.tpot > 0 {
		recordDur(r.h.TPOT, s.tpot)
	}
}

// mergeInto adds this recorder's data to h and c under its lock.
func (r *recorder) mergeInto(h *hists, c *Counters) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.merge(&r.h)
	c.add(&r.c)
}

// statusClass names an HTTP status error class.
func statusClass(code int) string { return "status_" + strconv.Itoa(code) }

// Bucket is one interval of the timeline.
type Bucket struct {
	T         float64 `json:"t_s"` // end of the interval (the last one ends with the run), seconds since start
	Completed int64   `json:"completed"`
	Errors    int64   `json:"errors"`
	Bytes     int64   `json:"bytes"`
}

// timeline counts completions per interval with atomics, so workers never
// take a lock for it.
type timeline struct {
	start    time.Time
	interval time.Duration
	b        []struct{ ok, errs, bytes atomic.Int64 }
}

func newTimeline(start time.Time, interval, length time.Duration) *timeline {
	n := int(length/interval) + 2
	t := &timeline{start: start, interval: interval}
	t.b = make([]struct{ ok, errs, bytes atomic.Int64 }, n)
	return t
}

func (t *timeline) add(end time.Time, failed bool, bytes int64) {
	i := int(end.Sub(t.start) / t.interval)
	if i < 0 {
		i = 0
	}
	if i >= len(t.b) {
		i = len(t.b) - 1
	}
	if failed {
		t.b[i].errs.Add(1)
	} else {
		t.b[i].ok.Add(1)
	}
	t.b[i].bytes.Add(bytes)
}

// buckets returns the intervals up to elapsed.
func (t *timeline) buckets(elapsed time.Duration) []Bucket {
	n := int((elapsed + t.interval - 1) / t.interval)
	if n > len(t.b) {
		n = len(t.b)
	}
	if n < 1 {
		n = 1
	}
	out := make([]Bucket, n)
	for i := range out {
		// The last interval ends with the run, so per-second rates derived
		// from it are not diluted by time that never happened.
		end := min(time.Duration(i+1)*t.interval, max(elapsed, time.Duration(i)*t.interval+1))
		out[i] = Bucket{
			T:         end.Seconds(),
			Completed: t.b[i].ok.Load(),
			Errors:    t.b[i].errs.Load(),
			Bytes:     t.b[i].bytes.Load(),
		}
	}
	return out
}
