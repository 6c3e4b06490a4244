package loadtest

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// SchemaVersion names the JSON layout documented in README.md. It changes
// only when a field changes meaning or is removed.
const SchemaVersion = "proxy-loadtest/1"

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
	Latency            Summary `json:"latency_ms"`
	LatencyUncorrected Summary `json:"latency_uncorrected_ms"`
	Headers            Summary `json:"headers_ms"`
	TTFT               Summary `json:"ttft_ms"`
	ChunkGap           Summary `json:"chunk_gap_ms"`
	TPOT               Summary `json:"tpot_ms"`
	Rates              struct {
		ChunksPerS       float64 `json:"chunks_per_s"`
		BytesPerS        float64 `json:"bytes_per_s"`
		OutputTokensPerS float64 `json:"output_tokens_per_s"`
	} `json:"rates"`
	Timeline   []Bucket            `json:"timeline"`
	Histograms map[string]HistJSON `json:"histograms"`
}

// Comparison is what the target adds over the baseline.
type Comparison struct {
	AddedP50Ms      float64 `json:"added_p50_ms"`
	AddedP99Ms      float64 `json:"added_p99_ms"`
	ThroughputRatio float64 `json:"throughput_ratio"`
}

// ResourceReport is the sampled resource use of the process under test.
type ResourceReport struct {
	Source         string           `json:"source"` // "embedded", "pid" or "none"
	Samples        []ResourceSample `json:"samples"`
	PeakRSSBytes   uint64           `json:"peak_rss_bytes"`
	MeanCPUPercent float64          `json:"mean_cpu_percent"`
	MaxGoroutines  int              `json:"max_goroutines"`
	Leak           LeakReport       `json:"leak"`
}

// GeneratorReport is the load generator's own cost.
type GeneratorReport struct {
	CPUSeconds  float64 `json:"cpu_s"`
	WallSeconds float64 `json:"wall_s"`
	CPUPercent  float64 `json:"cpu_percent"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	// IncludesTarget is true in embedded mode, where proxy and mock share
	// the generator's process and so its CPU figure.
	IncludesTarget bool `json:"includes_target"`
}

// Histogram keys in EndpointReport.Histograms.
var histKeys = []string{"latency", "latency_uncorrected", "headers", "ttft", "chunk_gap", "tpot"}

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
	// usersActive is the most users that sent in one phase.
	usersActive int64
}

func (d *endpointData) report() EndpointReport {
	r := EndpointReport{Name: d.name, URL: d.url, ActiveSeconds: d.active, UsersActive: d.usersActive, Counters: d.c,
		Timeline: d.timeline, Histograms: map[string]HistJSON{}}
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
	r.Latency = summarize(d.h.Latency)
	r.LatencyUncorrected = summarize(d.h.LatencyUncorrected)
	r.Headers = summarize(d.h.Headers)
	r.TTFT = summarize(d.h.TTFT)
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
		timeline: append([]Bucket(nil), r.Timeline...)}
	if d.c.Errors == nil {
		d.c.Errors = map[string]int64{}
	}
	ptrs := []**hdr.Histogram{&d.h.Latency, &d.h.LatencyUncorrected, &d.h.Headers, &d.h.TTFT, &d.h.ChunkGap, &d.h.TPOT}
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

// compare derives the comparison of target over baseline.
func compare(target, base *EndpointReport) *Comparison {
	c := &Comparison{
		AddedP50Ms: target.Latency.P50 - base.Latency.P50,
		AddedP99Ms: target.Latency.P99 - base.Latency.P99,
	}
	if base.Throughput.OKRPS > 0 {
		c.ThroughputRatio = target.Throughput.OKRPS / base.Throughput.OKRPS
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
	var cpu float64
	for _, s := range samples {
		if s.RSSBytes > r.PeakRSSBytes {
			r.PeakRSSBytes = s.RSSBytes
		}
		if s.Goroutines > r.MaxGoroutines {
			r.MaxGoroutines = s.Goroutines
		}
		cpu += s.CPUPercent
	}
	if len(samples) > 0 {
		r.MeanCPUPercent = cpu / float64(len(samples))
	}
	r.Leak = leakVerdict(samples, warmup)
	return r
}
