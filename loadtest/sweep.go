package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// SweepReport is the result of --sweep: open-loop steps of rising rate,
// stopped at the first that missed the SLO.
type SweepReport struct {
	Steps []SweepStep `json:"steps"`
	// GoodputRPS is the highest rate whose step met every objective (0 when
	// none did); SaturatedAtRPS the rate of the first step that did not (0
	// when every step met them).
	GoodputRPS     float64 `json:"goodput_rps"`
	SaturatedAtRPS float64 `json:"saturated_at_rps"`
}

// SweepStep is one rate of a sweep.
type SweepStep struct {
	RateRPS   float64    `json:"rate_rps"`
	OKRPS     float64    `json:"ok_rps"`
	Sent      int64      `json:"sent"`
	ErrorRate float64    `json:"error_rate"`
	Latency   Summary    `json:"latency_ms"`
	TTFT      Summary    `json:"ttft_ms"`
	Checks    []SLOCheck `json:"checks"`
	Pass      bool       `json:"pass"`
}

// minSweepShare is the share of the asked rate a step must complete: a
// target that cannot answer at the rate is saturated even when the
// answers it gives are fast.
const minSweepShare = 0.9

// parseSweep reads "FROM..TO".
func parseSweep(s string) (from, to float64, err error) {
	a, b, ok := strings.Cut(s, "..")
	if ok {
		from, err = strconv.ParseFloat(a, 64)
		if err == nil {
			to, err = strconv.ParseFloat(b, 64)
		}
	}
	if !ok || err != nil || !(from > 0) || !(to >= from) || math.IsInf(to, 0) {
		return 0, 0, fmt.Errorf("--sweep %q: want FROM..TO with 0 < FROM <= TO (req/s)", s)
	}
	return from, to, nil
}

// sweepRates spaces n rates geometrically from from to to.
func sweepRates(from, to float64, n int) []float64 {
	if n < 2 || from == to {
		return []float64{from}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Round(from*math.Pow(to/from, float64(i)/float64(n-1))*100) / 100
	}
	return out
}

// runSweep runs one open-loop step per rate against the same target (the
// embedded setup is started once) until a step misses the SLO.
func runSweep(ctx context.Context, cfg *Config, embed EmbedFunc, out io.Writer) (*Report, *SweepReport, error) {
	base := *cfg
	// The first tenth of each step (connections being opened, workers
	// starting) is its warm-up.
	base.Mode, base.Ramp, base.Warmup, base.Compare, base.Baseline = "open", 0, cfg.Duration/10, false, ""
	// Each step would overwrite the one request log.
	base.RequestLog = ""
	if base.Arrival == "" {
		base.Arrival = "constant"
	}
	if base.Target == "" {
		if embed == nil {
			return nil, nil, errors.New("no --target given and no embedded setup available")
		}
		emb, err := embed(base.Embed)
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded proxy and mock: %w", err)
		}
		defer func() { _ = emb.Stop() }()
		base.Target, base.APIKey, base.PID = emb.Target, emb.APIKey, emb.PID
	}
	sw := &SweepReport{Steps: []SweepStep{}}
	var last, first *Report
	for _, rate := range sweepRates(cfg.SweepFrom, cfg.SweepTo, cfg.SweepSteps) {
		if ctx.Err() != nil {
			break
		}
		step := base
		step.Rate = rate
		step.Total = step.Users * step.Requests
		step.fillSeconds()
		rep, err := execute(ctx, &step, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		// --start-at begins the first step; the others follow it.
		base.StartAt = time.Time{}
		if first == nil {
			first = rep
		}
		e := &rep.Endpoints[0]
		st := SweepStep{RateRPS: rate, OKRPS: e.Throughput.OKRPS, Sent: e.Counters.Sent, ErrorRate: e.ErrorRate,
			Latency: e.Latency, TTFT: e.TTFT, Checks: rep.SLO.Checks, Pass: rep.SLO.Pass}
		share := SLOCheck{Name: "ok_rps_share", Limit: minSweepShare, Actual: e.Throughput.OKRPS / rate}
		share.Pass = share.Actual >= minSweepShare
		st.Checks = append(st.Checks, share)
		st.Pass = st.Pass && share.Pass
		sw.Steps = append(sw.Steps, st)
		if out != nil {
			fmt.Fprintf(out, "sweep %.1f req/s: ok %.1f req/s, p99 %.2f ms, error rate %.4f: %s\n",
				rate, st.OKRPS, st.Latency.P99, st.ErrorRate, passWord(st.Pass))
		}
		if !st.Pass {
			sw.SaturatedAtRPS = rate
			break
		}
		sw.GoodputRPS = rate
		last = rep
	}
	if last == nil {
		// No step passed: show the first one, which says why.
		last = first
	}
	if last == nil {
		return nil, nil, errors.New("sweep interrupted before its first step")
	}
	last.Config.Sweep, last.Config.SweepFrom, last.Config.SweepTo, last.Config.SweepSteps = true, cfg.SweepFrom, cfg.SweepTo, cfg.SweepSteps
	return last, sw, nil
}

func passWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// writeSweepText prints the steps and the goodput.
func writeSweepText(out io.Writer, sw *SweepReport) {
	fmt.Fprintf(out, "\n== sweep\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "rate req/s\tok req/s\tsent\terror rate\tp50 ms\tp99 ms\tTTFT p99 ms\tverdict\t\n")
	for _, s := range sw.Steps {
		fmt.Fprintf(tw, "%.1f\t%.1f\t%d\t%.4f\t%.2f\t%.2f\t%.2f\t%s\t\n", s.RateRPS, s.OKRPS, s.Sent, s.ErrorRate,
			s.Latency.P50, s.Latency.P99, s.TTFT.P99, passWord(s.Pass))
	}
	tw.Flush()
	switch {
	case sw.GoodputRPS == 0:
		fmt.Fprintf(out, "goodput: no rate met the objectives (first step %.1f req/s failed)\n", sw.SaturatedAtRPS)
	case sw.SaturatedAtRPS == 0:
		fmt.Fprintf(out, "goodput: at least %.1f req/s (every step met the objectives; sweep higher)\n", sw.GoodputRPS)
	default:
		fmt.Fprintf(out, "goodput: %.1f req/s (saturated at %.1f req/s)\n", sw.GoodputRPS, sw.SaturatedAtRPS)
	}
}

// sweepStepDefault is each step's length when --duration is not given.
const sweepStepDefault = 10 * time.Second

// sweepUsers is a sweep's most requests in flight unless -c says: enough
// for 256 req/s of one-second answers.
const sweepUsers = 256
