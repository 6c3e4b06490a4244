package loadtest

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fasthttp"
)

func TestParseDist(t *testing.T) {
	tests := []struct {
		in   string
		dur  bool
		want string
		bad  bool
	}{
		{"20", false, "20", false},
		{"300ms", true, "0.3", false},
		{"20ms..40ms", true, "0.02..0.04", false},
		{"lognormal:120:350", false, "lognormal:120:350", false},
		{"lognormal:1s:500ms", true, "", true}, // p90 below the median
		{"40..20", false, "", true},
		{"-3", false, "", true},
		{"lognormal:5", false, "", true},
		{"fast", true, "", true},
	}
	for _, tc := range tests {
		d, err := parseDist(tc.in, tc.dur, 0, 1e9)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted as %v", tc.in, d)
			}
			continue
		}
		if err != nil || d.String() != tc.want {
			t.Errorf("%q: got %v, %v; want %s", tc.in, d, err, tc.want)
		}
	}
}

// TestModelProfileDraws checks that the default profile looks like a
// generating model: TTFT a few hundred ms, 20-40 ms per token, answers of
// tens to hundreds of tokens.
func TestModelProfileDraws(t *testing.T) {
	p, err := mockProfile("model")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	ttft, tokens := make([]float64, n), make([]float64, n)
	for i := range n {
		d := p.draw(r)
		if d.tpot < 20*time.Millisecond || d.tpot > 40*time.Millisecond || d.tokens < 5 || d.tokens > maxMockTokens {
			t.Fatalf("draw %+v out of range", d)
		}
		ttft[i], tokens[i] = d.ttft.Seconds(), float64(d.tokens)
	}
	q := func(x []float64, f float64) float64 { sort.Float64s(x); return x[int(f*float64(len(x)))] }
	if m := q(ttft, 0.5); m < 0.33 || m > 0.37 {
		t.Errorf("TTFT median %.3f s, want about 0.35", m)
	}
	if p90 := q(ttft, 0.9); p90 < 0.85 || p90 > 0.95 {
		t.Errorf("TTFT p90 %.3f s, want about 0.9", p90)
	}
	if m := q(tokens, 0.5); m < 55 || m > 65 {
		t.Errorf("tokens median %.0f, want about 60", m)
	}
	inst, _ := mockProfile("instant")
	if d := inst.draw(r); d.tokens != 20 || d.ttft != 0 || d.tpot != 0 {
		t.Errorf("instant draw %+v", d)
	}
	if _, err := mockProfile("slow"); err == nil {
		t.Error("unknown profile accepted")
	}
}

// TestProfileWrap checks the scripting headers the wrapper gives the mock:
// a stream starts after TTFT and paces tokens; a plain answer arrives when
// its last token would have been generated.
func TestProfileWrap(t *testing.T) {
	p := MockProfile{Name: "fixed",
		TTFT:   Dist{Kind: "fixed", A: 0.3, Max: 60},
		TPOT:   Dist{Kind: "fixed", A: 0.025, Max: 60},
		Tokens: Dist{Kind: "fixed", A: 41, Max: 600}}
	tests := []struct {
		name, path, body     string
		stall, delay, tokens string
	}{
		{"chat stream", "/v1/chat/completions", `{"stream":true}`, "275ms", "25ms", "41"},
		{"chat plain", "/v1/chat/completions", `{"stream":false}`, "1.3s", "", "41"},
		{"gemini stream", "/v1beta/models/m:streamGenerateContent", `{}`, "275ms", "25ms", "41"},
	}
	for _, tc := range tests {
		var got [3]string
		h := p.Wrap(func(ctx *fasthttp.RequestCtx) {
			for i, k := range []string{mock.HeaderStall, mock.HeaderDelay, mock.HeaderTokens} {
				got[i] = string(ctx.Request.Header.Peek(k))
			}
		})
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(tc.path)
		ctx.Request.SetBodyString(tc.body)
		h(&ctx)
		if want := [3]string{tc.stall, tc.delay, tc.tokens}; got != want {
			t.Errorf("%s: headers stall/delay/tokens %q, want %q", tc.name, got, want)
		}
	}
}
