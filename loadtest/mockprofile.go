package loadtest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// Dist is a distribution of one quantity (seconds or tokens) the embedded
// mock draws per request: fixed, uniform between A and B, or log-normal with
// median A and 90th percentile B. Draws are clamped to [Min, Max].
type Dist struct {
	Kind     string // "fixed", "uniform" or "lognormal"
	A, B     float64
	Min, Max float64
}

// z90 is the standard normal quantile at 0.9: a log-normal with median m
// and 90th percentile p has sigma ln(p/m)/z90.
const z90 = 1.2815515655446004

// source is what Draw needs of a random generator; *rand.Rand has it.
type source interface {
	Float64() float64
	NormFloat64() float64
}

// sharedRand is math/rand/v2's goroutine-safe generator, so that handlers
// on many connections need no generator of their own.
type sharedRand struct{}

func (sharedRand) Float64() float64     { return rand.Float64() }
func (sharedRand) NormFloat64() float64 { return rand.NormFloat64() }

// Draw returns one value.
func (d Dist) Draw(r source) float64 {
	var v float64
	switch d.Kind {
	case "uniform":
		v = d.A + (d.B-d.A)*r.Float64()
	case "lognormal":
		sigma := math.Log(d.B/d.A) / z90
		v = d.A * math.Exp(sigma*r.NormFloat64())
	default:
		v = d.A
	}
	return math.Min(math.Max(v, d.Min), d.Max)
}

// String writes d back in the flag syntax.
func (d Dist) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	switch d.Kind {
	case "uniform":
		return f(d.A) + ".." + f(d.B)
	case "lognormal":
		return "lognormal:" + f(d.A) + ":" + f(d.B)
	}
	return f(d.A)
}

// parseDist reads "V" (fixed), "A..B" (uniform) or "lognormal:MEDIAN:P90".
// Values are durations when dur is set (e.g. 300ms), counts otherwise.
func parseDist(s string, dur bool, lo, hi float64) (Dist, error) {
	num := func(x string) (float64, error) {
		if dur {
			d, err := time.ParseDuration(x)
			return d.Seconds(), err
		}
		return strconv.ParseFloat(x, 64)
	}
	d := Dist{Kind: "fixed", Min: lo, Max: hi}
	var err1, err2 error
	switch {
	case strings.HasPrefix(s, "lognormal:"):
		a, b, ok := strings.Cut(strings.TrimPrefix(s, "lognormal:"), ":")
		if !ok {
			return d, fmt.Errorf("%q: want lognormal:MEDIAN:P90", s)
		}
		d.Kind = "lognormal"
		d.A, err1 = num(a)
		d.B, err2 = num(b)
		if err1 == nil && err2 == nil && (d.A <= 0 || d.B < d.A) {
			return d, fmt.Errorf("%q: want 0 < median <= p90", s)
		}
	case strings.Contains(s, ".."):
		a, b, _ := strings.Cut(s, "..")
		d.Kind = "uniform"
		d.A, err1 = num(a)
		d.B, err2 = num(b)
		if err1 == nil && err2 == nil && d.B < d.A {
			return d, fmt.Errorf("%q: want A <= B", s)
		}
	default:
		d.A, err1 = num(s)
	}
	if err1 != nil || err2 != nil {
		return d, fmt.Errorf("%q: %v", s, firstErr(err1, err2))
	}
	if d.A < 0 {
		return d, fmt.Errorf("%q: negative", s)
	}
	return d, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// MockProfile shapes the embedded mock's answers. The default, "model",
// behaves like a generating model: each request draws its time to first
// token, its time per token and its answer length, so a default run shows
// realistic TTFT, chunk gaps and concurrency. "instant" answers 20 tokens
// at once, for throughput runs.
type MockProfile struct {
	Name   string
	TTFT   Dist // seconds before the first token
	TPOT   Dist // seconds per output token after the first
	Tokens Dist // output tokens
}

// Tokens are clamped so the slowest answer (600 tokens at 40 ms) still fits
// the default 30 s request timeout.
const (
	maxMockTokens = 600
	maxMockWait   = 60 // seconds, for TTFT and TPOT draws
)

// mockProfile returns the named profile before flag overrides.
func mockProfile(name string) (MockProfile, error) {
	switch name {
	case "model":
		// Near what hosted chat models show: a few hundred ms to the first
		// token with a long tail, 20-40 ms per token, answers of tens to
		// hundreds of tokens (median 60, p90 200: about 2 s an answer).
		return MockProfile{Name: name,
			TTFT:   Dist{Kind: "lognormal", A: 0.35, B: 0.9, Min: 0.05, Max: maxMockWait},
			TPOT:   Dist{Kind: "uniform", A: 0.020, B: 0.040, Min: 0, Max: maxMockWait},
			Tokens: Dist{Kind: "lognormal", A: 60, B: 200, Min: 5, Max: maxMockTokens},
		}, nil
	case "instant":
		return MockProfile{Name: name,
			TTFT:   Dist{Kind: "fixed", Max: maxMockWait},
			TPOT:   Dist{Kind: "fixed", Max: maxMockWait},
			Tokens: Dist{Kind: "fixed", A: 20, Min: 1, Max: maxMockTokens},
		}, nil
	}
	return MockProfile{}, fmt.Errorf("unknown --mock-profile %q (model, instant)", name)
}

// askedTokens is the answer length a request allows in any protocol's
// field, or 0.
func askedTokens(v *fastjson.Value) int {
	for _, path := range [][]string{{"max_tokens"}, {"max_completion_tokens"}, {"max_output_tokens"},
		{"generationConfig", "maxOutputTokens"}} {
		if n := v.GetInt(path...); n > 0 {
			return n
		}
	}
	return 0
}

// draw is the shape of one answer.
type draw struct {
	tokens     int
	ttft, tpot time.Duration
}

func (p *MockProfile) draw(r source) draw {
	sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	return draw{tokens: int(math.Round(p.Tokens.Draw(r))), ttft: sec(p.TTFT.Draw(r)), tpot: sec(p.TPOT.Draw(r))}
}

// Wrap returns next with each request's answer shaped by the profile,
// through the mock's scripting headers. A streamed answer waits TTFT and
// then sends one token every TPOT; a plain one arrives whole when the last
// token would have been generated, as a real model's does.
func (p *MockProfile) Wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	var parsers fastjson.ParserPool
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() {
			next(ctx)
			return
		}
		d := p.draw(sharedRand{})
		pr := parsers.Get()
		v, err := pr.ParseBytes(ctx.PostBody())
		stream := err == nil && v.GetBool("stream") || bytes.Contains(ctx.Path(), []byte("streamGenerateContent"))
		if err == nil {
			// A model stops at the answer length the request allows.
			if limit := askedTokens(v); limit > 0 && d.tokens > limit {
				d.tokens = limit
			}
		}
		parsers.Put(pr)
		// The mock pauses Delay before every event after its first (the
		// role-only one), so a stream's first token comes at Stall+Delay.
		stall := max(d.ttft-d.tpot, 0)
		if !stream {
			stall = d.ttft + d.tpot*time.Duration(max(d.tokens-1, 0))
		}
		h := &ctx.Request.Header
		h.Set(mock.HeaderTokens, strconv.Itoa(d.tokens))
		h.Set(mock.HeaderStall, stall.String())
		if stream {
			h.Set(mock.HeaderDelay, d.tpot.String())
		}
		next(ctx)
	}
}
