package loadtest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// mergeMain implements `proxy loadtest merge a.json b.json ...`.
func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("loadtest merge", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonFile := fs.String("json", "", "write the merged JSON report to this file")
	htmlFile := fs.String("html", "", "write the merged HTML report to this file")
	maxErr := fs.Float64("max-error-rate", 0, "SLO: highest allowed error fraction (0 = any error fails); negative = off")
	maxP99 := fs.Duration("max-p99", 0, "SLO: highest allowed p99 latency; 0 = off")
	maxTTFT := fs.Duration("max-ttft-p99", 0, "SLO: highest allowed p99 TTFT; 0 = off")
	force := fs.Bool("force", false, "merge runs of different targets or settings (users, rate, duration, workload, interval, ...)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(stderr, "loadtest merge: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "loadtest merge: give one or more JSON reports")
		return ExitUsage
	}
	reps := make([]*Report, 0, fs.NArg())
	for _, f := range fs.Args() {
		rep, err := ReadReport(f)
		if err != nil {
			fmt.Fprintf(stderr, "loadtest merge: %v\n", err)
			return ExitRunError
		}
		reps = append(reps, rep)
	}
	if !*force {
		if err := sameLoad(reps, fs.Args()); err != nil {
			fmt.Fprintf(stderr, "loadtest merge: %v (--force merges anyway)\n", err)
			return ExitUsage
		}
	}
	merged, err := mergeReports(reps, fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "loadtest merge: %v\n", err)
		return ExitRunError
	}
	merged.Config.MaxErrorRate, merged.Config.MaxP99, merged.Config.MaxTTFTP99 = *maxErr, *maxP99, *maxTTFT
	merged.Config.fillSeconds()
	merged.SLO = evaluateSLO(&merged.Config, &merged.Endpoints[0])
	merged.Warnings = warnings(&merged.Config, merged)
	return finishReport(merged, &Config{JSONFile: *jsonFile, HTMLFile: *htmlFile}, stdout, stderr)
}

// sameLoad checks that the runs describe one load on one system: the same
// endpoints and URLs, protocol, workload, load settings and sampling
// interval (loadDifferences lists what is compared).
func sameLoad(reps []*Report, names []string) error {
	for i, r := range reps[1:] {
		if diff := loadDifferences(reps[0], r, true); len(diff) > 0 {
			return fmt.Errorf("%s and %s ran different loads: %s", names[0], names[i+1], strings.Join(diff, "; "))
		}
	}
	return nil
}

// mergeReports combines runs that loaded the same system at the same time
// (several generators): histograms and counters are merged bucket by
// bucket, never averaged; timelines, scatter points and resource samples
// are aligned on the wall clock (a run that started later adds into later
// intervals); the active time spans from the earliest start to the latest
// end, so rates of runs that overlapped add up. Every run is named in
// Sources.
func mergeReports(reps []*Report, names []string) (*Report, error) {
	if len(reps) == 0 {
		return nil, errors.New("nothing to merge")
	}
	out := &Report{Schema: SchemaVersion, StartedAt: reps[0].StartedAt, Config: reps[0].Config,
		MergedFrom: append([]string(nil), names...), Warnings: []string{}, Sources: []Source{}}
	out.Config.Users, out.Config.Total = 0, 0
	var order []string
	byName := map[string]*endpointData{}
	starts := make([]time.Time, len(reps))
	for i, rep := range reps {
		t, err := time.Parse(time.RFC3339Nano, rep.StartedAt)
		if err != nil {
			return nil, fmt.Errorf("run %d: started_at: %w", i+1, err)
		}
		starts[i] = t
	}
	first := slices.MinFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	out.StartedAt = first.UTC().Format(time.RFC3339Nano)
	interval := time.Duration(reps[0].Config.Seconds.Interval * float64(time.Second))
	var hosts []string
	for i, rep := range reps {
		offset := starts[i].Sub(first)
		out.Sources = append(out.Sources, mergeSource(rep, names[i], offset))
		if h := rep.Generator.Host; h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
		out.Config.Users += rep.Config.Users
		out.Config.Total += rep.Config.Total
		// One process was under test: the run that sampled it longest
		// speaks for it, on the merged time axis.
		if i == 0 || len(rep.Resources.Samples) > len(out.Resources.Samples) {
			out.Resources = rep.Resources
			out.Resources.Samples = shiftSamples(rep.Resources.Samples, offset)
		}
		g := &out.Generator
		g.CPUSeconds += rep.Generator.CPUSeconds
		g.WallSeconds = max(g.WallSeconds, offset.Seconds()+rep.Generator.WallSeconds)
		g.GOMAXPROCS = max(g.GOMAXPROCS, rep.Generator.GOMAXPROCS)
		g.IncludesTarget = g.IncludesTarget || rep.Generator.IncludesTarget
		// Loops add up like the machines' CPU; runs on different clients
		// merge as "mixed".
		g.Loops += rep.Generator.Loops
		switch {
		case i == 0:
			g.Client = rep.Generator.Client
		case g.Client != rep.Generator.Client:
			g.Client = "mixed"
		}
		for j := range rep.Endpoints {
			d, err := endpointFromReport(&rep.Endpoints[j])
			if err != nil {
				return nil, fmt.Errorf("run %d: %w", i+1, err)
			}
			// Timelines are aligned on the wall clock: a run that started
			// later adds into later intervals.
			shift := 0
			if interval > 0 {
				shift = int((offset + interval/2) / interval)
			}
			d.timeline = shiftTimeline(d.timeline, shift, interval)
			for k := range d.scatter {
				d.scatter[k].T += offset.Seconds()
			}
			d.active += offset.Seconds()
			acc, ok := byName[d.name]
			if !ok {
				byName[d.name] = d
				order = append(order, d.name)
				continue
			}
			acc.h.merge(&d.h)
			acc.c.add(&d.c)
			acc.active = max(acc.active, d.active)
			acc.targetRPS += d.targetRPS
			acc.scheduled += d.scheduled
			acc.usersActive += d.usersActive
			acc.timeline = mergeTimelines(acc.timeline, d.timeline)
			acc.scatter = thinScatter(append(acc.scatter, d.scatter...))
		}
	}
	out.Generator.Host = strings.Join(hosts, ",")
	if out.Generator.WallSeconds > 0 {
		out.Generator.CPUPercent = out.Generator.CPUSeconds / out.Generator.WallSeconds * 100
	}
	for _, n := range order {
		out.Endpoints = append(out.Endpoints, byName[n].report())
	}
	if len(out.Endpoints) == 0 {
		return nil, errors.New("reports hold no endpoints")
	}
	var t, b *EndpointReport
	for i := range out.Endpoints {
		switch out.Endpoints[i].Name {
		case "target":
			t = &out.Endpoints[i]
		case "baseline":
			b = &out.Endpoints[i]
		}
	}
	if t != nil && b != nil {
		out.Comparison = compare(t, b)
	}
	return out, nil
}

// mergeSource describes one merged run.
func mergeSource(rep *Report, file string, offset time.Duration) Source {
	s := Source{File: file, Host: rep.Generator.Host, StartedAt: rep.StartedAt, ScheduledStart: rep.ScheduledStart,
		OffsetSeconds: offset.Seconds()}
	if t := target(rep); t != nil {
		s.Sent, s.OK = t.Counters.Sent, t.Counters.OK
	}
	return s
}

// shiftSamples moves resource samples later by offset.
func shiftSamples(in []ResourceSample, offset time.Duration) []ResourceSample {
	out := append([]ResourceSample(nil), in...)
	for i := range out {
		out[i].T += offset.Seconds()
	}
	return out
}

// thinScatter keeps every k-th point so at most scatterMax remain.
func thinScatter(p []ScatterPoint) []ScatterPoint {
	if len(p) <= scatterMax {
		return p
	}
	step := (len(p) + scatterMax - 1) / scatterMax
	out := p[:0]
	for i := 0; i < len(p); i += step {
		out = append(out, p[i])
	}
	return out
}

// shiftTimeline delays a timeline by n intervals.
func shiftTimeline(b []Bucket, n int, interval time.Duration) []Bucket {
	if n <= 0 {
		return b
	}
	out := make([]Bucket, n, n+len(b))
	for i := range out {
		out[i].T = (time.Duration(i+1) * interval).Seconds()
	}
	for _, x := range b {
		x.T += (time.Duration(n) * interval).Seconds()
		out = append(out, x)
	}
	return out
}

// mergeTimelines adds b into a interval by interval.
func mergeTimelines(a, b []Bucket) []Bucket {
	for i, x := range b {
		if i >= len(a) {
			a = append(a, x)
			continue
		}
		a[i].Completed += x.Completed
		a[i].Errors += x.Errors
		a[i].Bytes += x.Bytes
		// Per-interval percentiles cannot be merged from percentiles: the
		// larger of the runs' is an upper bound of the merged one.
		a[i].P50Ms, a[i].P90Ms, a[i].P99Ms = max(a[i].P50Ms, x.P50Ms), max(a[i].P90Ms, x.P90Ms), max(a[i].P99Ms, x.P99Ms)
	}
	return a
}
