package loadtest

import (
	"fmt"
	"time"
)

// SchemaVersion names the JSON layout documented in README.md. It changes
// only when a field changes meaning or is removed.
const SchemaVersion = "proxy-loadtest/2"

// Report is the whole result of a run (or of merged runs).
type Report struct {
	Schema     string           `json:"schema"`
	StartedAt  string           `json:"started_at"`
	Config     Config           `json:"config"`
	Endpoints  []EndpointReport `json:"endpoints"`
	Comparison *Comparison      `json:"comparison"`
	Resources  ResourceReport   `json:"resources"`
	Generator  GeneratorReport  `json:"generator"`
	SLO        SLOReport        `json:"slo"`
	MergedFrom []string         `json:"merged_from"`
	// Sources describe each merged run (empty for a single run).
	Sources []Source `json:"sources"`
	// ScheduledStart is the --start-at time the run waited for, if any.
	ScheduledStart string `json:"scheduled_start,omitempty"`
	// Warnings name what makes the figures less than they seem (a closed
	// loop that saw a stall, a run in which nothing succeeded).
	Warnings []string `json:"warnings"`
	// Sweep is present for --sweep runs; the rest of the report is then
	// the last step that met the objectives.
	Sweep *SweepReport `json:"sweep,omitempty"`
	// Regression is present when the run was compared with a previous
	// report (--compare-to).
	Regression *RegressionReport `json:"regression,omitempty"`
}

// EndpointReport is the result for one endpoint (the target, or the
// baseline it is compared with).
type EndpointReport struct {
	Name          string  `json:"name"`
	URL           string  `json:"url"`
	ActiveSeconds float64 `json:"active_s"`
	// UsersActive is how many users (workers) sent at least one request.
	UsersActive int64    `json:"users_active"`
	Counters    Counters `json:"counters"`
	ErrorRate   float64  `json:"error_rate"`
	Throughput  struct {
		TargetRPS   float64 `json:"target_rps"`
		Scheduled   int64   `json:"scheduled"`
		AchievedRPS float64 `json:"achieved_rps"`
		OKRPS       float64 `json:"ok_rps"`
	} `json:"throughput"`
	// Latency is both kinds together; Plain and Stream hold each kind.
	Latency            Summary    `json:"latency_ms"`
	LatencyUncorrected Summary    `json:"latency_uncorrected_ms"`
	Plain              KindReport `json:"plain"`
	Stream             KindReport `json:"stream"`
	Headers            Summary    `json:"headers_ms"`
	HeadersUncorrected Summary    `json:"headers_uncorrected_ms"`
	TTFT               Summary    `json:"ttft_ms"`
	TTFTUncorrected    Summary    `json:"ttft_uncorrected_ms"`
	ChunkGap           Summary    `json:"chunk_gap_ms"`
	TPOT               Summary    `json:"tpot_ms"`
	Rates              struct {
		ChunksPerS       float64 `json:"chunks_per_s"`
		BytesPerS        float64 `json:"bytes_per_s"`
		OutputTokensPerS float64 `json:"output_tokens_per_s"`
	} `json:"rates"`
	Timeline []Bucket `json:"timeline"`
	// Scatter is a uniform sample of at most 2000 requests: when each was
	// due and its corrected latency (ok) or time to failure.
	Scatter    []ScatterPoint      `json:"scatter"`
	Histograms map[string]HistJSON `json:"histograms"`
}

// ScatterPoint is one sampled request.
type ScatterPoint struct {
	T         float64 `json:"t_s"` // due time, seconds since the start
	LatencyMs float64 `json:"latency_ms"`
	OK        bool    `json:"ok"`
	Stream    bool    `json:"stream"`
}

// KindReport is the latency of one kind of request (plain or streamed).
type KindReport struct {
	Latency            Summary `json:"latency_ms"`
	LatencyUncorrected Summary `json:"latency_uncorrected_ms"`
}

// Comparison is what the target adds over the baseline.
type Comparison struct {
	AddedP50Ms      float64 `json:"added_p50_ms"`
	AddedP99Ms      float64 `json:"added_p99_ms"`
	ThroughputRatio float64 `json:"throughput_ratio"`
	// Added is target minus baseline at each percentile, per measure:
	// latency (both kinds), plain_latency, stream_latency, headers, ttft.
	Added map[string]Added `json:"added_ms"`
}

// Added is a difference of two summaries at each percentile, in ms.
type Added struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
}

// addedKeys orders Comparison.Added for tables.
var addedKeys = []string{"latency", "plain_latency", "stream_latency", "headers", "ttft"}

func added(t, b Summary) Added {
	return Added{P50: t.P50 - b.P50, P90: t.P90 - b.P90, P95: t.P95 - b.P95, P99: t.P99 - b.P99, P999: t.P999 - b.P999}
}

// ResourceReport is the sampled resource use of the process under test.
type ResourceReport struct {
	Source         string           `json:"source"` // "embedded", "pid" or "none"
	Samples        []ResourceSample `json:"samples"`
	PeakRSSBytes   uint64           `json:"peak_rss_bytes"`
	MeanCPUPercent float64          `json:"mean_cpu_percent"`
	MaxGoroutines  int              `json:"max_goroutines"`
	Leak           LeakReport       `json:"leak"`
	Operator       OperatorFigures  `json:"operator"`
}

// OperatorFigures are what a gateway operator sizes machines by: the
// target process's CPU time per request and its memory per open stream.
type OperatorFigures struct {
	// CPUSeconds is the target's CPU time over the run; CPUPerRequestUs
	// divides it by the requests sent to the target (0 when none).
	CPUSeconds      float64 `json:"cpu_s"`
	CPUPerRequestUs float64 `json:"cpu_per_request_us"`
	// RSSPerOpenStreamBytes is the slope of a least-squares line of RSS
	// over the number of streams open at each sample; 0 when the number of
	// open streams did not vary (StreamSamples counts the samples, and
	// MaxOpenStreams is the most seen open at once).
	RSSPerOpenStreamBytes float64 `json:"rss_per_open_stream_bytes"`
	StreamSamples         int     `json:"stream_samples"`
	MaxOpenStreams        int64   `json:"max_open_streams"`
}

// minStreamRange is the least spread of open-stream counts over the
// samples for which memory per stream is fitted.
const minStreamRange = 8

// operatorFigures fills r.Operator from the target's CPU time over the run
// and the resource samples.
func (r *ResourceReport) operatorFigures(cpuSeconds float64, target *EndpointReport) {
	r.Operator = OperatorFigures{CPUSeconds: cpuSeconds}
	o := &r.Operator
	if target.Counters.Sent > 0 {
		o.CPUPerRequestUs = cpuSeconds / float64(target.Counters.Sent) * 1e6
	}
	var n, sx, sy float64
	minOpen := int64(-1)
	for _, s := range r.Samples {
		o.MaxOpenStreams = max(o.MaxOpenStreams, s.OpenStreams)
		if minOpen < 0 || s.OpenStreams < minOpen {
			minOpen = s.OpenStreams
		}
		n++
		sx += float64(s.OpenStreams)
		sy += float64(s.RSSBytes)
	}
	o.StreamSamples = int(n)
	// A slope over a handful of streams is allocator noise.
	if n < 3 || o.MaxOpenStreams-minOpen < minStreamRange {
		return
	}
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for _, s := range r.Samples {
		dx := float64(s.OpenStreams) - mx
		sxy += dx * (float64(s.RSSBytes) - my)
		sxx += dx * dx
	}
	if sxx > 0 {
		o.RSSPerOpenStreamBytes = sxy / sxx
	}
}

// GeneratorReport is the load generator's own cost.
type GeneratorReport struct {
	CPUSeconds  float64 `json:"cpu_s"`
	WallSeconds float64 `json:"wall_s"`
	CPUPercent  float64 `json:"cpu_percent"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	// Client is the HTTP client that sent the load: "epoll" (the event
	// loop) or "fasthttp" ("" in reports of older versions).
	Client string `json:"client"`
	// Loops is the event-loop client's thread count (0 with fasthttp).
	Loops int `json:"loops"`
	// IncludesTarget is true in embedded mode, where proxy and mock share
	// the generator's process and so its CPU figure.
	IncludesTarget bool `json:"includes_target"`
	// Host is the generator machine's name ("" in reports of older
	// versions; for a merged report, the first run's).
	Host string `json:"host"`
}

// Source is one run of a merged report: its file, the generator's host,
// when it started and how far after the earliest run, and what it sent to
// the target.
type Source struct {
	File           string  `json:"file"`
	Host           string  `json:"host"`
	StartedAt      string  `json:"started_at"`
	ScheduledStart string  `json:"scheduled_start,omitempty"`
	OffsetSeconds  float64 `json:"offset_s"`
	Sent           int64   `json:"sent"`
	OK             int64   `json:"ok"`
}

// endpointData is the additive raw material of an endpoint report; merging
// runs merges these, never the derived summaries.
type endpointData struct {
	name, url string
	h         hists
	c         Counters
	active    float64
	targetRPS float64
	scheduled int64
	timeline  []Bucket
	scatter   []ScatterPoint
	// usersActive is the most users that sent in one phase.
	usersActive int64
}

func (d *endpointData) report() EndpointReport {
	r := EndpointReport{Name: d.name, URL: d.url, ActiveSeconds: d.active, UsersActive: d.usersActive, Counters: d.c,
		Timeline: d.timeline, Scatter: d.scatter, Histograms: map[string]HistJSON{}}
	if r.Scatter == nil {
		r.Scatter = []ScatterPoint{}
	}
	if r.Counters.Errors == nil {
		r.Counters.Errors = map[string]int64{}
	}
	if r.Timeline == nil {
		r.Timeline = []Bucket{}
	}
	if d.c.Sent > 0 {
		r.ErrorRate = float64(d.c.ErrorTotal()) / float64(d.c.Sent)
	}
	r.Throughput.TargetRPS = d.targetRPS
	r.Throughput.Scheduled = d.scheduled
	if d.active > 0 {
		r.Throughput.AchievedRPS = float64(d.c.Sent) / d.active
		r.Throughput.OKRPS = float64(d.c.OK) / d.active
		r.Rates.ChunksPerS = float64(d.c.Chunks) / d.active
		r.Rates.BytesPerS = float64(d.c.Bytes) / d.active
		r.Rates.OutputTokensPerS = float64(d.c.OutputTokens) / d.active
	}
	r.Latency = summarize(d.h.latency(true))
	r.LatencyUncorrected = summarize(d.h.latency(false))
	r.Plain = KindReport{summarize(d.h.PlainLatency), summarize(d.h.PlainLatencyUncorrected)}
	r.Stream = KindReport{summarize(d.h.StreamLatency), summarize(d.h.StreamLatencyUncorrected)}
	r.Headers = summarize(d.h.Headers)
	r.HeadersUncorrected = summarize(d.h.HeadersUncorrected)
	r.TTFT = summarize(d.h.TTFT)
	r.TTFTUncorrected = summarize(d.h.TTFTUncorrected)
	r.ChunkGap = summarize(d.h.ChunkGap)
	r.TPOT = summarize(d.h.TPOT)
	for i, h := range d.h.all() {
		r.Histograms[histKeys[i]] = exportHist(h)
	}
	return r
}

// endpointFromReport recovers the raw data of a report read back from JSON.
func endpointFromReport(r *EndpointReport) (*endpointData, error) {
	d := &endpointData{name: r.Name, url: r.URL, c: r.Counters, active: r.ActiveSeconds,
		targetRPS: r.Throughput.TargetRPS, scheduled: r.Throughput.Scheduled, usersActive: r.UsersActive,
		timeline: append([]Bucket(nil), r.Timeline...), scatter: append([]ScatterPoint(nil), r.Scatter...)}
	if d.c.Errors == nil {
		d.c.Errors = map[string]int64{}
	}
	ptrs := d.h.ptrs()
	for i, k := range histKeys {
		j, ok := r.Histograms[k]
		if !ok {
			return nil, fmt.Errorf("endpoint %q: histogram %q missing", r.Name, k)
		}
		h, err := importHist(j)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q histogram %q: %w", r.Name, k, err)
		}
		*ptrs[i] = h
	}
	return d, nil
}

// scatterPoints converts recorders' samples to report points, thinned
// evenly to scatterMax.
func scatterPoints(start time.Time, pts []scatterPoint) []ScatterPoint {
	step := 1
	if len(pts) > scatterMax {
		step = (len(pts) + scatterMax - 1) / scatterMax
	}
	out := make([]ScatterPoint, 0, min(len(pts), scatterMax))
	for i := 0; i < len(pts); i += step {
		p := pts[i]
		out = append(out, ScatterPoint{T: p.due.Sub(start).Seconds(), LatencyMs: float64(p.latency.Microseconds()) / 1000,
			OK: p.ok, Stream: p.stream})
	}
	return out
}

// compare derives the comparison of target over baseline.
func compare(target, base *EndpointReport) *Comparison {
	c := &Comparison{
		AddedP50Ms: target.Latency.P50 - base.Latency.P50,
		AddedP99Ms: target.Latency.P99 - base.Latency.P99,
	}
	if base.Throughput.OKRPS > 0 {
		c.ThroughputRatio = target.Throughput.OKRPS / base.Throughput.OKRPS
	}
	c.Added = map[string]Added{}
	for k, pair := range map[string][2]Summary{
		"latency":        {target.Latency, base.Latency},
		"plain_latency":  {target.Plain.Latency, base.Plain.Latency},
		"stream_latency": {target.Stream.Latency, base.Stream.Latency},
		"headers":        {target.Headers, base.Headers},
		"ttft":           {target.TTFT, base.TTFT},
	} {
		// A difference needs both sides measured.
		if pair[0].Count > 0 && pair[1].Count > 0 {
			c.Added[k] = added(pair[0], pair[1])
		}
	}
	return c
}

// resourceReport summarizes a resource series; warmup excludes the first
// seconds from the leak fit.
func resourceReport(source string, samples []ResourceSample, warmup float64) ResourceReport {
	r := ResourceReport{Source: source, Samples: samples, MaxGoroutines: -1}
	if r.Samples == nil {
		r.Samples = []ResourceSample{}
	}
	// Each sample's CPU figure covers the time since the previous sample,
	// and intervals differ (the last one ends with the run): weight by time.
	var cpu, span, prev float64
	for _, s := range samples {
		if s.RSSBytes > r.PeakRSSBytes {
			r.PeakRSSBytes = s.RSSBytes
		}
		if s.Goroutines > r.MaxGoroutines {
			r.MaxGoroutines = s.Goroutines
		}
		if dt := s.T - prev; dt > 0 {
			cpu += s.CPUPercent * dt
			span += dt
		}
		prev = s.T
	}
	if span > 0 {
		r.MeanCPUPercent = cpu / span
	}
	r.Leak = leakVerdict(samples, warmup)
	return r
}
