package loadtest

import (
	"math/bits"
	"math/rand/v2"
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
	// classCut marks a request still running when the cap's grace ended;
	// it is counted apart, neither success nor error.
	classCut = "cut_at_cap"
)

// Counters are the additive totals of one endpoint.
type Counters struct {
	Sent     int64 `json:"sent"`
	OK       int64 `json:"ok"`
	Streamed int64 `json:"streamed"`
	Late     int64 `json:"late_sends"`
	// HeldBack counts closed-loop requests due before the user's previous
	// answer had ended.
	HeldBack int64 `json:"held_back"`
	// CutAtCap counts requests still running when the cap's grace ended:
	// abandoned, and not in sent, ok or errors.
	CutAtCap     int64 `json:"cut_at_cap"`
	Chunks       int64 `json:"chunks"`
	Bytes        int64 `json:"bytes"`
	OutputTokens int64 `json:"output_tokens"`
	// TokensFromChunks counts the streams without a usage block, whose
	// tokens are their content events.
	TokensFromChunks int64 `json:"streams_tokens_from_chunks"`
	// Warmup counts the requests due during the warm-up, left out of the
	// histograms (they are in every other counter).
	Warmup    int64 `json:"warmup"`
	Truncated int64 `json:"truncated"`
	// Errors maps an error class to its count.
	Errors map[string]int64 `json:"errors"`
}

func (c *Counters) add(o *Counters) {
	c.Sent += o.Sent
	c.OK += o.OK
	c.Streamed += o.Streamed
	c.Late += o.Late
	c.HeldBack += o.HeldBack
	c.CutAtCap += o.CutAtCap
	c.Chunks += o.Chunks
	c.Bytes += o.Bytes
	c.OutputTokens += o.OutputTokens
	c.TokensFromChunks += o.TokensFromChunks
	c.Warmup += o.Warmup
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

// hists groups the histograms one endpoint keeps. Plain and streamed
// answers have separate latency histograms: mixed, a percentile would be one
// kind's p50 and the other's p90. Corrected times count from the due time
// (the intended send in an open loop, the paced due time in a closed one),
// uncorrected ones from the actual send.
type hists struct {
	PlainLatency             *hdr.Histogram
	PlainLatencyUncorrected  *hdr.Histogram
	StreamLatency            *hdr.Histogram
	StreamLatencyUncorrected *hdr.Histogram
	Headers                  *hdr.Histogram // streams only
	HeadersUncorrected       *hdr.Histogram
	TTFT                     *hdr.Histogram
	TTFTUncorrected          *hdr.Histogram
	ChunkGap                 *hdr.Histogram
	TPOT                     *hdr.Histogram
}

// Histogram keys in EndpointReport.Histograms, in the order of hists.all.
var histKeys = []string{"plain_latency", "plain_latency_uncorrected", "stream_latency", "stream_latency_uncorrected",
	"headers", "headers_uncorrected", "ttft", "ttft_uncorrected", "chunk_gap", "tpot"}

func newHists() hists {
	var h hists
	for _, p := range h.ptrs() {
		*p = newHist()
	}
	return h
}

func (h *hists) ptrs() []**hdr.Histogram {
	return []**hdr.Histogram{&h.PlainLatency, &h.PlainLatencyUncorrected, &h.StreamLatency, &h.StreamLatencyUncorrected,
		&h.Headers, &h.HeadersUncorrected, &h.TTFT, &h.TTFTUncorrected, &h.ChunkGap, &h.TPOT}
}

func (h *hists) all() []*hdr.Histogram {
	ps := h.ptrs()
	out := make([]*hdr.Histogram, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

func (h *hists) merge(o *hists) {
	dst, src := h.all(), o.all()
	for i := range dst {
		dst[i].Merge(src[i])
	}
}

// latency returns corrected (or uncorrected) latency of both kinds merged.
func (h *hists) latency(corrected bool) *hdr.Histogram {
	out := newHist()
	if corrected {
		out.Merge(h.PlainLatency)
		out.Merge(h.StreamLatency)
	} else {
		out.Merge(h.PlainLatencyUncorrected)
		out.Merge(h.StreamLatencyUncorrected)
	}
	return out
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
	tokensFromChunks    bool // no usage block: tokens are the content events
	warmup              bool // due during the warm-up: counted, not in the histograms
	heldBack            bool // closed loop: the user's previous answer ended after this was due
}

// recorder is one worker's private histograms and counters. The mutex is
// uncontended except when the progress line takes a snapshot.
type recorder struct {
	mu   sync.Mutex
	h    hists
	c    Counters
	late time.Duration
	// points is a uniform sample (reservoir) of the requests, for the
	// report's scatter plot; seen counts the requests offered to it.
	points []scatterPoint
	seen   int64
	keep   int
}

// scatterPoint is one request of the scatter sample.
type scatterPoint struct {
	due     time.Time
	latency time.Duration
	ok      bool
	stream  bool
}

// scatterMax is the most requests a report's scatter plot shows per
// endpoint; each recorder keeps its share.
const scatterMax = 2000

func newRecorder(lateAfter time.Duration) *recorder {
	return &recorder{h: newHists(), c: Counters{Errors: map[string]int64{}}, late: lateAfter, keep: scatterMax}
}

// sample offers a request to the reservoir.
func (r *recorder) sample(s *sample) {
	p := scatterPoint{due: s.intended, latency: s.end.Sub(s.intended), ok: s.class == "", stream: s.streamed}
	r.seen++
	if len(r.points) < r.keep {
		r.points = append(r.points, p)
		return
	}
	if j := rand.Int64N(r.seen); j < int64(r.keep) {
		r.points[j] = p
	}
}

// record adds one finished request; gaps are the inter-chunk gaps the worker
// buffered while reading the stream.
func (r *recorder) record(s *sample, gaps []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.class == classCut {
		r.c.CutAtCap++
		return
	}
	r.c.Sent++
	if s.sent.Sub(s.intended) > r.late {
		r.c.Late++
	}
	if s.heldBack {
		r.c.HeldBack++
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
	if s.tokensFromChunks {
		r.c.TokensFromChunks++
	}
	if s.warmup {
		r.c.Warmup++
	}
	if s.class != "" {
		r.c.Errors[s.class]++
	} else {
		r.c.OK++
	}
	r.sample(s)
	if s.warmup {
		return
	}
	for _, g := range gaps {
		recordDur(r.h.ChunkGap, g)
	}
	// The time between the due time and the send is added to the times
	// measured from the send, so TTFT and headers are corrected like latency.
	wait := max(s.sent.Sub(s.intended), 0)
	// A plain answer is read whole before the client returns, so only a
	// stream tells when its headers arrived.
	if s.headers > 0 && s.streamed {
		recordDur(r.h.Headers, s.headers+wait)
		recordDur(r.h.HeadersUncorrected, s.headers)
	}
	if s.ttft > 0 {
		recordDur(r.h.TTFT, s.ttft+wait)
		recordDur(r.h.TTFTUncorrected, s.ttft)
	}
	if s.class != "" {
		return
	}
	lat, unc := r.h.PlainLatency, r.h.PlainLatencyUncorrected
	if s.streamed {
		lat, unc = r.h.StreamLatency, r.h.StreamLatencyUncorrected
	}
	recordDur(lat, s.end.Sub(s.intended))
	recordDur(unc, s.end.Sub(s.sent))
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

// scatter returns a copy of the recorder's sample.
func (r *recorder) scatter() []scatterPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]scatterPoint(nil), r.points...)
}

// statusClass names an HTTP status error class.
func statusClass(code int) string { return "status_" + strconv.Itoa(code) }

// Bucket is one interval of the timeline.
type Bucket struct {
	T         float64 `json:"t_s"` // end of the interval (the last one ends with the run), seconds since start
	Completed int64   `json:"completed"`
	Errors    int64   `json:"errors"`
	Bytes     int64   `json:"bytes"`
	// Corrected latency of the ok answers that ended in the interval, both
	// kinds, to 12.5% resolution (0 when none ended in it).
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// Per-interval latency is kept in log-linear buckets: 8 per power of two
// (12.5% resolution) from 1 µs to an hour, 2 KB an interval, so that a
// ten-minute run's timeline costs about a megabyte, not an HDR histogram
// per second.
const (
	subBits    = 3
	subBuckets = 1 << subBits
	latBuckets = subBuckets + (32-subBits)*subBuckets
)

// latBucket is the bucket of us microseconds.
func latBucket(us int64) int {
	if us < subBuckets {
		return int(max(us, 0))
	}
	e := 63 - bits.LeadingZeros64(uint64(us)) // us >= 2^e
	i := subBuckets + (e-subBits)*subBuckets + int(us>>(e-subBits))&(subBuckets-1)
	return min(i, latBuckets-1)
}

// latBucketMid is the middle of bucket i, in microseconds.
func latBucketMid(i int) float64 {
	if i < subBuckets {
		return float64(i)
	}
	e := (i-subBuckets)/subBuckets + subBits
	sub := (i - subBuckets) % subBuckets
	lo := float64(uint64(1)<<e) * (1 + float64(sub)/subBuckets)
	return lo * (1 + 0.5/subBuckets)
}

// timeline counts completions per interval with atomics, so workers never
// take a lock for it.
type timeline struct {
	start    time.Time
	interval time.Duration
	b        []timelineBucket
}

type timelineBucket struct {
	ok, errs, bytes atomic.Int64
	lat             [latBuckets]atomic.Int64
}

func newTimeline(start time.Time, interval, length time.Duration) *timeline {
	n := int(length/interval) + 2
	t := &timeline{start: start, interval: interval}
	t.b = make([]timelineBucket, n)
	return t
}

// add counts a request that ended at end; latency is its corrected latency
// when it succeeded.
func (t *timeline) add(end time.Time, failed bool, bytes int64, latency time.Duration) {
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
		t.b[i].lat[latBucket(latency.Microseconds())].Add(1)
	}
	t.b[i].bytes.Add(bytes)
}

// quantiles reads p50, p90 and p99 in ms from one interval's buckets.
func (tb *timelineBucket) quantiles() (p50, p90, p99 float64) {
	var total int64
	for i := range tb.lat {
		total += tb.lat[i].Load()
	}
	if total == 0 {
		return 0, 0, 0
	}
	qs := []float64{0.5, 0.9, 0.99}
	out := make([]float64, len(qs))
	var seen int64
	k := 0
	for i := range tb.lat {
		seen += tb.lat[i].Load()
		for k < len(qs) && float64(seen) >= qs[k]*float64(total) {
			out[k] = latBucketMid(i) / 1000
			k++
		}
	}
	return out[0], out[1], out[2]
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
		p50, p90, p99 := t.b[i].quantiles()
		out[i] = Bucket{
			T:         end.Seconds(),
			Completed: t.b[i].ok.Load(),
			Errors:    t.b[i].errs.Load(),
			Bytes:     t.b[i].bytes.Load(),
			P50Ms:     p50, P90Ms: p90, P99Ms: p99,
		}
	}
	return out
}
