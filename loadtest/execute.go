package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// execute performs the run described by cfg and builds its report. In
// embedded mode (no cfg.Target) it starts and stops the setup through embed.
func execute(ctx context.Context, cfg *Config, embed EmbedFunc, progressOut io.Writer) (rep *Report, err error) {
	pool, err := buildPool(cfg)
	if err != nil {
		return nil, err
	}
	target, baseline, apiKey := cfg.Target, cfg.Baseline, cfg.APIKey
	var sample func() Resources
	source := "none"
	inProcess := false // the target runs inside this process
	if target == "" {
		if embed == nil {
			return nil, errors.New("no --target given and no embedded setup available")
		}
		emb, err := embed(cfg.Embed)
		if err != nil {
			return nil, fmt.Errorf("start embedded proxy and mock: %w", err)
		}
		defer func() {
			if serr := emb.Stop(); serr != nil && err == nil {
				err = fmt.Errorf("stop embedded setup: %w", serr)
			}
		}()
		target, apiKey, sample, source = emb.Target, emb.APIKey, emb.Sample, "embedded"
		inProcess = emb.PID == 0
		if cfg.Compare {
			baseline = emb.Baseline
		}
	} else if cfg.PID > 0 {
		if sample, err = PIDSampler(cfg.PID); err != nil {
			return nil, err
		}
		source = "pid"
	}
	if sample == nil {
		source = "none"
	}

	r := &runner{cfg: cfg, clock: realClock{}}
	r.events = r.useEvents()
	names, urls := []string{"target"}, []string{target}
	if baseline != "" {
		names, urls = append(names, "baseline"), append(urls, baseline)
	}
	for i := range names {
		ep, err := newEndpoint(names[i], urls[i], endpointSpec{proto: protocols[cfg.Protocol], model: cfg.Model,
			apiKey: apiKey, conns: cfg.Users, timeout: cfg.Timeout, bodies: pool[0], pool: pool})
		if err != nil {
			return nil, err
		}
		for range recorderShards(cfg.Users) {
			ep.recs = append(ep.recs, newRecorder(cfg.LateAfter))
		}
		r.eps = append(r.eps, ep)
	}

	// Several machines begin together at --start-at; the setup above
	// (the embedded proxy, the connections' targets) is done by then.
	if !cfg.StartAt.IsZero() {
		if err := waitUntil(ctx, cfg.StartAt, progressOut); err != nil {
			return nil, err
		}
	}
	r.start = time.Now()
	if cfg.RequestLog != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.RequestLog), 0o755); err != nil {
			return nil, fmt.Errorf("request log: %w", err)
		}
		log, err := openRequestLog(cfg.RequestLog, r.start)
		if err != nil {
			return nil, err
		}
		defer func() {
			if cerr := log.close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		for _, ep := range r.eps {
			ep.log = log
		}
	}
	// The run lasts at most the duration cap plus the grace for the
	// requests in flight at the cap (per phase, with a baseline).
	span := cfg.Duration + 4*cfg.Grace
	for _, ep := range r.eps {
		ep.tl = newTimeline(r.start, cfg.Interval, span)
	}
	var smp *sampler
	if sample != nil {
		tgt := r.eps[0]
		smp = newSampler(sample, func() (int64, int64) { return tgt.open.Load(), tgt.inflight.Load() }, r.start)
	}
	prog := &progress{w: progressOut, tty: isTerminal(progressOut), r: r,
		capAt: cfg.Duration, total: int64(cfg.Total * len(r.eps))}
	r.progress = func(now time.Time) {
		if smp != nil {
			smp.take(now)
		}
		if progressOut != nil {
			prog.tick(now)
		}
	}
	cpu0 := selfCPU()
	r.run(ctx)
	end := time.Now()
	cpu1 := selfCPU()
	if r.evErr != nil {
		return nil, fmt.Errorf("event-loop client: %w", r.evErr)
	}
	for _, ep := range r.eps {
		// Main may run inside a long-lived process: leave no sockets behind.
		ep.hc.CloseIdleConnections()
	}
	if smp != nil {
		smp.take(end)
	}
	if progressOut != nil {
		prog.finish()
	}

	rep = &Report{Schema: SchemaVersion, StartedAt: r.start.UTC().Format(time.RFC3339Nano), Config: *cfg,
		MergedFrom: []string{}, Warnings: []string{}, Sources: []Source{}}
	if !cfg.StartAt.IsZero() {
		rep.ScheduledStart = cfg.StartAt.UTC().Format(time.RFC3339Nano)
	}
	rep.Config.Embedded = cfg.Target == ""
	elapsed := end.Sub(r.start)
	for i, ep := range r.eps {
		h, c := r.snapshot(i)
		d := &endpointData{name: ep.name, url: ep.url, h: h, c: c, active: r.active[i],
			targetRPS: cfg.Rate, scheduled: r.scheduled[i], usersActive: r.usersActive[i],
			timeline: ep.tl.buckets(elapsed), scatter: scatterPoints(r.start, ep.scatter())}
		rep.Endpoints = append(rep.Endpoints, d.report())
	}
	if len(rep.Endpoints) == 2 {
		rep.Comparison = compare(&rep.Endpoints[0], &rep.Endpoints[1])
	}
	var samples []ResourceSample
	if smp != nil {
		samples = smp.samples
	}
	rep.Resources = resourceReport(source, samples, warmupSeconds(cfg, elapsed))
	if smp != nil {
		rep.Resources.operatorFigures(smp.cpuSeconds(), &rep.Endpoints[0])
	}
	rep.Generator = GeneratorReport{CPUSeconds: cpu1 - cpu0, WallSeconds: elapsed.Seconds(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Client: clientFasthttp, IncludesTarget: inProcess, Host: hostname()}
	if r.events {
		rep.Generator.Client, rep.Generator.Loops = clientEpoll, min(evLoops(cfg), cfg.Users)
	}
	if elapsed > 0 {
		rep.Generator.CPUPercent = rep.Generator.CPUSeconds / elapsed.Seconds() * 100
	}
	rep.SLO = evaluateSLO(cfg, &rep.Endpoints[0])
	rep.Warnings = warnings(cfg, rep)
	if !cfg.StartAt.IsZero() {
		if late := r.start.Sub(cfg.StartAt); late > startAtTolerance {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("started %v after --start-at (the setup outlasted the wait): other machines' runs began earlier",
				late.Round(time.Millisecond)))
		}
	}
	return rep, nil
}

// hostname names the generator's machine in the report, so that a merged
// report can say where each part came from.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// recorderShards is how many recorders (histogram sets) an endpoint gets.
// A set of six 1 µs..1 h histograms at 3 digits takes about 1.1 MB, so one
// per user would cost the stress tier (200 users, two endpoints) 450 MB,
// and in embedded mode that memory would sit in the process whose RSS is
// being judged. Only GOMAXPROCS workers run at once, so four recorders per
// P keep each recorder's lock (held ~150 ns per request) nearly
// uncontended.
func recorderShards(users int) int {
	return max(1, min(users, 4*runtime.GOMAXPROCS(0)))
}

// warmupSeconds is the part of the run left out of the leak fit: the ramp,
// and at least the first 10% of the run, when pools and caches fill.
func warmupSeconds(cfg *Config, elapsed time.Duration) float64 {
	w := cfg.Ramp
	if tenth := elapsed / 10; tenth > w {
		w = tenth
	}
	return w.Seconds()
}
