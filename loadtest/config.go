package loadtest

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"github.com/valyala/fastjson"
)

// Tier is a named load level.
type Tier struct {
	Name     string
	Users    int
	Requests int // per user
	Duration time.Duration
	Ramp     time.Duration
	Stream   float64 // fraction of streamed requests
}

// tierByName returns a built-in load level. Heavier tiers stream more, as
// real chat traffic at volume is mostly streamed.
func tierByName(name string) (Tier, bool) {
	switch name {
	case "light":
		return Tier{"light", 10, 50, 60 * time.Second, 2 * time.Second, 0.5}, true
	case "moderate":
		return Tier{"moderate", 50, 100, 120 * time.Second, 5 * time.Second, 0.5}, true
	case "heavy":
		return Tier{"heavy", 100, 200, 300 * time.Second, 10 * time.Second, 0.7}, true
	case "stress":
		return Tier{"stress", 200, 500, 600 * time.Second, 20 * time.Second, 0.8}, true
	}
	return Tier{}, false
}

// Config is one run, after tier defaults, overrides and scaling.
type Config struct {
	// Tier is the tier that ran as defined, or "custom" when --users,
	// --requests, --duration or --rate changed it; FromTier is the tier the
	// other settings came from.
	Tier       string        `json:"tier"`
	FromTier   string        `json:"from_tier"`
	Mode       string        `json:"mode"` // "closed" or "open"
	Users      int           `json:"users"`
	Requests   int           `json:"requests_per_user"`
	Total      int           `json:"total_requests"`
	Duration   time.Duration `json:"-"`
	Ramp       time.Duration `json:"-"`
	Warmup     time.Duration `json:"-"`
	Rate       float64       `json:"rate"`
	Arrival    string        `json:"arrival"` // "constant", "poisson" or "gamma"; "" in a closed loop
	GammaShape float64       `json:"gamma_shape"`
	// Sweep: open-loop steps from SweepFrom to SweepTo req/s (SweepSteps
	// rates, geometric), each lasting Duration.
	Sweep        bool    `json:"sweep"`
	SweepFrom    float64 `json:"sweep_from_rps"`
	SweepTo      float64 `json:"sweep_to_rps"`
	SweepSteps   int     `json:"sweep_steps"`
	Stream       float64 `json:"stream_fraction"`
	Scale        float64 `json:"scale"`
	Model        string  `json:"model"`
	Protocol     string  `json:"protocol"`
	BodyFile     string  `json:"body_file"`
	RequestsFile string  `json:"requests_file"`
	PromptWords  string  `json:"prompt_words"`
	MaxTokens    string  `json:"max_tokens"`
	Turns        int     `json:"turns"`
	// NoPace: closed-loop users send back to back (as wrk does) instead of
	// pacing their requests over the duration.
	NoPace bool `json:"no_pace"`
	// Client picks the HTTP client: auto (the event loop where it applies,
	// else fasthttp), epoll or fasthttp. See evclient.go.
	Client string `json:"client"`
	// Loops is the event-loop client's thread count (0: half the cores).
	Loops int `json:"loops"`
	// Concurrent runs target and baseline at the same time instead of in
	// alternating phases.
	Concurrent   bool          `json:"baseline_concurrent"`
	Tools        bool          `json:"tools"`
	Target       string        `json:"target"`
	Baseline     string        `json:"baseline"`
	PID          int           `json:"pid"`
	Timeout      time.Duration `json:"-"`
	Grace        time.Duration `json:"-"`
	Interval     time.Duration `json:"-"`
	LateAfter    time.Duration `json:"-"`
	Seed         uint64        `json:"seed"`
	MaxErrorRate float64       `json:"max_error_rate"`
	MaxP99       time.Duration `json:"-"`
	MaxTTFTP99   time.Duration `json:"-"`
	Compare      bool          `json:"compare"`
	Embedded     bool          `json:"embedded"`
	// The embedded mock's profile and distributions (TTFT and TPOT in seconds).
	MockProfile string       `json:"mock_profile"`
	MockTTFT    string       `json:"mock_ttft_s"`
	MockTPOT    string       `json:"mock_tpot_s"`
	MockTokens  string       `json:"mock_tokens"`
	APIKey      string       `json:"-"`
	JSONFile    string       `json:"-"`
	HTMLFile    string       `json:"-"`
	OutDir      string       `json:"-"`
	RequestLog  string       `json:"-"`
	CPUProfile  string       `json:"-"`
	Embed       EmbedOptions `json:"-"`
	// CompareTo is a previous JSON report to judge this run against with
	// the Gate limits; CompareAnyway compares runs of different loads.
	CompareTo     string     `json:"-"`
	CompareAnyway bool       `json:"-"`
	Gate          GateLimits `json:"-"`
	// StartAt is when the load began by agreement (--start-at), so that
	// several machines start one run together; zero without it.
	StartAt  time.Time `json:"-"`
	modelSet bool
	// Seconds mirrors the duration fields for the JSON report.
	Seconds struct {
		Duration   float64 `json:"duration_cap"`
		Ramp       float64 `json:"ramp"`
		Warmup     float64 `json:"warmup"`
		Timeout    float64 `json:"timeout"`
		Grace      float64 `json:"grace"`
		Interval   float64 `json:"interval"`
		LateAfter  float64 `json:"late_after"`
		MaxP99     float64 `json:"max_p99"`
		MaxTTFTP99 float64 `json:"max_ttft_p99"`
	} `json:"seconds"`
}

// parseConfig reads the flags of `proxy loadtest`.
// errUsagePrinted is a flag mistake already reported with the usage.
var errUsagePrinted = errors.New("usage printed")

func parseConfig(args []string, out io.Writer) (*Config, error) {
	fs := pflag.NewFlagSet("loadtest", pflag.ContinueOnError)
	fs.SetOutput(out)
	tier := fs.String("tier", "light", "load tier: light, moderate, heavy or stress")
	users := fs.IntP("users", "c", 0, "users (closed loop) or most requests in flight (open loop)")
	requests := fs.Int("requests", 0, "requests per user")
	duration := fs.DurationP("duration", "d", 0, "time cap of the run, over which users pace their requests")
	rate := fs.Float64P("rate", "r", 0, "open loop: arrivals per second (0 = closed loop)")
	noPace := fs.Bool("no-pace", false, "closed loop: users send back to back, as fast as answers come (as wrk does), instead of pacing their requests over the duration")
	sweep := fs.String("sweep", "", "rate sweep FROM..TO req/s: open-loop steps of rising rate (each --duration long, default 10s) until one misses the SLO; reports the goodput")
	sweepSteps := fs.Int("sweep-steps", 6, "--sweep: number of rates, spaced geometrically")
	poisson := fs.Bool("poisson", false, "open loop: short for --arrival poisson")
	arrival := fs.String("arrival", "constant", "open loop: constant, poisson or gamma (bursty) arrivals")
	shape := fs.Float64("gamma-shape", 0.25, "--arrival gamma: shape k of the gaps; burstiness (CV) is 1/sqrt(k), so 0.25 gives bursts twice as irregular as Poisson")
	ramp := fs.Duration("ramp", -1, "ramp-up time (users join evenly, or the rate rises linearly)")
	warmup := fs.Duration("warmup", -1, "requests due this long after the start (of each phase) are left out of the histograms")
	stream := fs.Float64("stream", -1, "fraction of streamed requests, 0..1")
	model := fs.String("model", "mock-gpt", "model name put in the request body (Gemini: in the path)")
	protoName := fs.String("protocol", "", "client API: chat, responses, anthropic or gemini (default chat, or the one a full --target endpoint URL names)")
	body := fs.String("body", "", "file with a JSON request body to send instead of the default")
	reqFile := fs.String("requests-file", "", "JSONL file of recorded request bodies (of --protocol), sent in rotation")
	promptWords := fs.String("prompt-words", "", "generated prompts: length of the last user message in words, N, A..B or lognormal:MEDIAN:P90 (default 8)")
	maxTokens := fs.String("max-tokens", "", "generated prompts: answer length asked for (max_tokens or the protocol's field), same syntax")
	tools := fs.Bool("tools", false, "generated prompts: declare a weather tool and end each conversation with its call and result, so the model answers from a tool result")
	turns := fs.Int("turns", 1, "generated prompts: messages per conversation (user and assistant alternating, ending with the user)")
	scale := fs.Float64("scale", 1, "multiply the tier's users, requests, duration and ramp (for CI)")
	target := fs.String("target", "", "base URL (http://host:port[/prefix]) or full endpoint URL of a running server (default: embedded proxy + mock)")
	baseline := fs.String("baseline", "", "base URL of a second endpoint (the upstream directly) to compare against")
	alternate := fs.Bool("alternate", true, "with a baseline: run target and baseline in alternating phases (false: both at once over the whole duration); default false for the embedded model-like mock, whose answers are waits, not work")
	compare := fs.Bool("compare", true, "embedded mode: also run the load against the mock upstream directly")
	pid := fs.Int("pid", 0, "with --target: PID of the proxy to sample from /proc")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request timeout, streams included")
	grace := fs.Duration("grace", 5*time.Second, "requests in flight at the duration cap may finish this long after it; then they are cut (counted as cut_at_cap, not as errors)")
	interval := fs.Duration("interval", time.Second, "sampling and progress interval")
	lateAfter := fs.Duration("late-after", time.Millisecond, "open loop: a send later than this after its intended time counts as late")
	seed := fs.Uint64("seed", 1, "seed for random (Poisson, gamma) arrivals")
	apiKey := fs.String("api-key", os.Getenv("LOADTEST_API_KEY"), "bearer key for --target (default $LOADTEST_API_KEY)")
	maxErr := fs.Float64("max-error-rate", 0, "SLO: highest allowed error fraction (0 = any error fails, e.g. 0.01 allows 1%); negative = off")
	maxP99 := fs.Duration("max-p99", 0, "SLO: highest allowed p99 latency; 0 = off")
	maxTTFT := fs.Duration("max-ttft-p99", 0, "SLO: highest allowed p99 TTFT; 0 = off")
	jsonFile := fs.String("json", "", "write the JSON report to this file")
	htmlFile := fs.String("html", "", "write the HTML report to this file")
	outDir := fs.String("out", "loadtest-results/DATE-TIME-TIER", "folder for report.txt, report.json and report.html (\"\" = none; off when --json or --html is given)")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's own CPU profile (pprof) to this file")
	loops := fs.Int("loops", 0, "event-loop client: OS threads, each with its own epoll set over its share of the users (0 = half of GOMAXPROCS, at least 1)")
	client := fs.String("client", clientAuto, "HTTP client: auto (an epoll event loop per core for closed-loop, unpaced (--no-pace), plain (--stream 0) runs without TLS; fasthttp otherwise), epoll (refuse other runs) or fasthttp")
	reqLog := fs.String("request-log", "", "write one JSON line per request to this file (relative: inside --out)")
	mockProfileName := fs.String("mock-profile", "model", "embedded mock: model (TTFT, per-token time and length drawn per answer) or instant (20 tokens at once)")
	mockTokens := fs.String("mock-tokens", "", "embedded mock: tokens per answer, N, A..B or lognormal:MEDIAN:P90 (model: lognormal:60:200; instant: 20)")
	mockDelay := fs.String("mock-chunk-delay", "", "embedded mock: time per token, D, A..B or lognormal:MEDIAN:P90 (model: 20ms..40ms; instant: 0)")
	compareTo := fs.String("compare-to", "", "regression gate: compare this run with a previous JSON report and exit 4 when a figure got worse beyond its threshold (see the --regress-* flags)")
	compareAnyway := fs.Bool("compare-anyway", false, "--compare-to: compare even when the previous run ran another load (users, rate, duration, workload, ...)")
	gate := gateFlags(fs)
	startAt := fs.String("start-at", "", "begin the load at this wall-clock time (RFC 3339, or Unix seconds), so that several machines start one run together; refused when already past by more than 2s")
	mockLatency := fs.String("mock-latency", "", "embedded mock: time to first token, same syntax (model: lognormal:350ms:900ms; instant: 0)")
	// Show the values flags really default to, not their sentinels.
	for name, def := range map[string]string{"ramp": "the tier's (light: 2s)", "stream": "the tier's (light: 0.5)",
		"warmup": "the ramp", "users": "the tier's (light: 10)", "requests": "the tier's (light: 50)",
		"duration": "the tier's (light: 1m0s); with --sweep 10s per step"} {
		fs.Lookup(name).DefValue = def
	}
	fs.Usage = func() { writeUsage(out, fs) }
	if err := fs.Parse(args); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			// Say what was wrong first, then how to say it right.
			fmt.Fprintf(out, "loadtest: %v\n\n", err)
			writeUsage(out, fs)
			return nil, errUsagePrinted
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	t, ok := tierByName(*tier)
	if !ok {
		return nil, fmt.Errorf("unknown tier %q (light, moderate, heavy, stress)", *tier)
	}
	if *scale <= 0 || *scale > 100 {
		return nil, fmt.Errorf("--scale %v out of range (0, 100]", *scale)
	}
	c := &Config{Tier: t.Name, Scale: *scale, Model: *model, BodyFile: *body, RequestsFile: *reqFile,
		PromptWords: *promptWords, MaxTokens: *maxTokens, Turns: *turns, Tools: *tools, NoPace: *noPace, Target: *target,
		Baseline: *baseline, PID: *pid, Timeout: *timeout, Interval: *interval, LateAfter: *lateAfter,
		Grace: *grace, Seed: *seed, MaxErrorRate: *maxErr, MaxP99: *maxP99, MaxTTFTP99: *maxTTFT, APIKey: *apiKey,
		JSONFile: *jsonFile, HTMLFile: *htmlFile, Rate: *rate, Compare: *compare, OutDir: *outDir}
	prof, err := buildProfile(*mockProfileName, *mockTokens, *mockDelay, *mockLatency)
	if err != nil {
		return nil, err
	}
	c.Embed = EmbedOptions{Profile: prof}
	c.MockProfile = prof.Name
	c.MockTTFT, c.MockTPOT, c.MockTokens = prof.TTFT.String(), prof.TPOT.String(), prof.Tokens.String()
	c.modelSet = fs.Changed("model")
	c.FromTier = t.Name
	for _, f := range []string{"users", "requests", "duration", "rate"} {
		if fs.Changed(f) {
			c.Tier = "custom"
		}
	}
	proto, err := protocolFor(*protoName, *target)
	if err != nil {
		return nil, err
	}
	c.Protocol = proto.name
	c.Users = scaleInt(t.Users, *scale)
	c.Requests = scaleInt(t.Requests, *scale)
	c.Duration = time.Duration(float64(t.Duration) * *scale)
	c.Ramp = time.Duration(float64(t.Ramp) * *scale)
	c.Stream = t.Stream
	if *users > 0 {
		c.Users = *users
	}
	if *requests > 0 {
		c.Requests = *requests
	}
	if *duration > 0 {
		// The tier's ramp keeps its share of a duration given explicitly.
		c.Ramp = time.Duration(float64(c.Ramp) * float64(*duration) / float64(c.Duration))
		c.Duration = *duration
	}
	if *ramp >= 0 {
		c.Ramp = *ramp
	}
	if *stream >= 0 {
		c.Stream = *stream
	}
	c.Warmup = c.Ramp
	if *warmup >= 0 {
		c.Warmup = *warmup
	}
	if *sweep != "" {
		if c.SweepFrom, c.SweepTo, err = parseSweep(*sweep); err != nil {
			return nil, err
		}
		if *sweepSteps < 1 || *sweepSteps > 100 {
			return nil, fmt.Errorf("--sweep-steps %d: want 1..100", *sweepSteps)
		}
		c.Sweep, c.SweepSteps, c.Rate = true, *sweepSteps, c.SweepFrom
		c.Tier, c.Ramp, c.Warmup = "custom", 0, 0
		if !fs.Changed("duration") {
			c.Duration = sweepStepDefault
		}
		if !fs.Changed("users") {
			// In an open loop users only bound the requests in flight: let
			// the target, not the generator, be what saturates.
			c.Users = sweepUsers
		}
		// Each step may send as many requests as its rate asks for.
		c.Requests = int(math.Ceil(c.SweepTo*c.Duration.Seconds()/float64(c.Users))) + 1
	}
	c.Client, c.Loops = *client, *loops
	if err := c.validate(); err != nil {
		return nil, err
	}
	if !fs.Changed("out") {
		c.OutDir = ""
		if c.JSONFile == "" && c.HTMLFile == "" {
			c.OutDir = filepath.Join("loadtest-results", time.Now().Format("20060102-150405")+"-"+c.FromTier)
		}
	}
	c.RequestLog, c.CPUProfile = *reqLog, *cpuProfile
	c.CompareTo, c.CompareAnyway, c.Gate = *compareTo, *compareAnyway, gate()
	if c.CompareTo != "" && c.Sweep {
		return nil, fmt.Errorf("--compare-to does not apply to --sweep (compare the reports of single runs)")
	}
	if *startAt != "" {
		if c.StartAt, err = parseStartAt(*startAt, time.Now()); err != nil {
			return nil, err
		}
	}
	if c.RequestLog != "" && !filepath.IsAbs(c.RequestLog) && c.OutDir != "" {
		c.RequestLog = filepath.Join(c.OutDir, c.RequestLog)
	}
	c.Total = c.Users * c.Requests
	c.Mode, c.Arrival = "closed", ""
	if c.Rate > 0 {
		c.Mode, c.Arrival = "open", *arrival
		if *poisson {
			c.Arrival = "poisson"
		}
		switch c.Arrival {
		case "constant", "poisson":
		case "gamma":
			if !(*shape > 0 && *shape <= 100) {
				return nil, fmt.Errorf("--gamma-shape %v: want a value in (0, 100]", *shape)
			}
			c.GammaShape = *shape
		default:
			return nil, fmt.Errorf("--arrival %q: want constant, poisson or gamma", c.Arrival)
		}
	}
	// Alternating phases keep a busy machine's drift off the comparison,
	// but quarter the time each endpoint gets; answers that are mostly
	// waiting (the model mock) share the machine without contention.
	c.Concurrent = !*alternate || (!fs.Changed("alternate") && c.Target == "" && prof.Name == "model")
	if c.Target == "" {
		c.Baseline = "" // filled from the embedded setup
	} else {
		c.Compare = c.Baseline != ""
	}
	c.fillSeconds()
	return c, nil
}

// buildProfile takes the named mock profile and applies the flags that
// were given.
func buildProfile(name, tokens, tpot, ttft string) (MockProfile, error) {
	p, err := mockProfile(name)
	if err != nil {
		return p, err
	}
	for _, f := range []struct {
		flag, val string
		dst       *Dist
		dur       bool
		lo, hi    float64
	}{
		{"--mock-tokens", tokens, &p.Tokens, false, 0, maxMockTokens},
		{"--mock-chunk-delay", tpot, &p.TPOT, true, 0, maxMockWait},
		{"--mock-latency", ttft, &p.TTFT, true, 0, maxMockWait},
	} {
		if f.val == "" {
			continue
		}
		d, err := parseDist(f.val, f.dur, f.lo, f.hi)
		if err != nil {
			return p, fmt.Errorf("%s %w", f.flag, err)
		}
		*f.dst = d
	}
	return p, nil
}

// writeUsage prints the synopsis, the tiers with their real values, and
// the flags.
func writeUsage(out io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(out, `usage: proxy loadtest [--tier light|moderate|heavy|stress] [flags]
       proxy loadtest --sweep FROM..TO [flags]
       proxy loadtest merge a.json b.json ... [--json FILE] [--html FILE] [--force] [SLO flags]
       proxy loadtest compare previous.json current.json [--regress-* flags]

--compare-to previous.json judges this run against a previous report and exits 4
when a figure got worse beyond its --regress-* threshold. --start-at TIME (RFC 3339
or Unix seconds) makes several machines begin one run together; merge their
reports with merge, which aligns them on the wall clock.

Without --target the proxy (a child process) and a mock upstream that answers like a
generating model are started on loopback, and the same load also goes to the mock
directly (the baseline). Reports go to ./loadtest-results/DATE-TIME-TIER/ unless
--out, --json or --html say otherwise.

tiers: each user joins during the ramp, then paces its own requests over the rest
of the duration (a request starts when it is due and the previous answer is in):
`)
	for _, n := range []string{"light", "moderate", "heavy", "stress"} {
		t, _ := tierByName(n)
		fmt.Fprintf(out, "  %-9s %4d users x %3d requests over %4s, ramp %3s, %2.0f%% streamed\n",
			t.Name, t.Users, t.Requests, t.Duration, t.Ramp, t.Stream*100)
	}
	fmt.Fprintf(out, `--scale multiplies users, requests, duration and ramp; -c/--users, --requests and
-d/--duration override them (the ramp keeps its share of a duration given). With
-r/--rate the load is an open loop: arrivals at that rate, users = most in flight.

flags:
`)
	fs.PrintDefaults()
}

func (c *Config) validate() error {
	switch {
	case c.Stream > 1:
		return fmt.Errorf("--stream %v: want a fraction in [0, 1]", c.Stream)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("--rate %v invalid", c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("--duration must be positive")
	case c.Ramp >= c.Duration:
		return fmt.Errorf("--ramp %v must be shorter than the duration cap %v", c.Ramp, c.Duration)
	case c.Warmup >= c.Duration:
		return fmt.Errorf("--warmup %v must be shorter than the duration cap %v", c.Warmup, c.Duration)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive")
	case c.Turns < 1 || c.Turns > 1000:
		return fmt.Errorf("--turns %d: want 1..1000", c.Turns)
	case c.RequestsFile != "" && (c.BodyFile != "" || c.PromptWords != "" || c.MaxTokens != "" || c.Turns > 1 || c.Tools):
		return fmt.Errorf("--requests-file replaces --body, --prompt-words, --max-tokens, --turns and --tools")
	case c.BodyFile != "" && (c.PromptWords != "" || c.MaxTokens != "" || c.Turns > 1 || c.Tools):
		return fmt.Errorf("--body replaces --prompt-words, --max-tokens, --turns and --tools")
	case c.Grace < 0:
		return fmt.Errorf("--grace must not be negative")
	case c.Client != clientAuto && c.Client != clientEpoll && c.Client != clientFasthttp:
		return fmt.Errorf("--client %q: want auto, epoll or fasthttp", c.Client)
	case c.Loops < 0 || c.Loops > 1024:
		return fmt.Errorf("--loops %d: want 0 (half the cores) to 1024", c.Loops)
	case c.Client == clientEpoll && evReason(c) != "":
		return fmt.Errorf("--client epoll cannot run this load: %s", evReason(c))
	case c.Interval < 10*time.Millisecond:
		// Each tick merges every recorder's histograms for the progress line.
		return fmt.Errorf("--interval %v: want at least 10ms", c.Interval)
	case c.PID != 0 && c.Target == "":
		return fmt.Errorf("--pid needs --target (embedded mode samples from inside)")
	case c.Baseline != "" && c.Target == "":
		return fmt.Errorf("--baseline needs --target (embedded mode compares with its mock by itself)")
	case c.Users > 100_000:
		return fmt.Errorf("--users %d is too many", c.Users)
	case c.Users*c.Requests > 100_000_000:
		return fmt.Errorf("%d users x %d requests is too many", c.Users, c.Requests)
	}
	return nil
}

// restoreDurations sets the duration fields from their JSON mirror, for a
// report read back from a file.
func (c *Config) restoreDurations() {
	sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	c.Duration, c.Ramp, c.Warmup = sec(c.Seconds.Duration), sec(c.Seconds.Ramp), sec(c.Seconds.Warmup)
	c.Timeout, c.Interval, c.LateAfter = sec(c.Seconds.Timeout), sec(c.Seconds.Interval), sec(c.Seconds.LateAfter)
	c.Grace = sec(c.Seconds.Grace)
	c.MaxP99, c.MaxTTFTP99 = sec(c.Seconds.MaxP99), sec(c.Seconds.MaxTTFTP99)
}

func (c *Config) fillSeconds() {
	c.Seconds.Duration = c.Duration.Seconds()
	c.Seconds.Ramp = c.Ramp.Seconds()
	c.Seconds.Warmup = c.Warmup.Seconds()
	c.Seconds.Timeout = c.Timeout.Seconds()
	c.Seconds.Grace = c.Grace.Seconds()
	c.Seconds.Interval = c.Interval.Seconds()
	c.Seconds.LateAfter = c.LateAfter.Seconds()
	c.Seconds.MaxP99 = c.MaxP99.Seconds()
	c.Seconds.MaxTTFTP99 = c.MaxTTFTP99.Seconds()
}

// scaleInt scales n, keeping at least one.
func scaleInt(n int, f float64) int {
	v := int(math.Round(float64(n) * f))
	if v < 1 {
		v = 1
	}
	return v
}

// buildBodies returns the first body pair of the run's pool (see
// buildPool).
func buildBodies(c *Config) ([2][]byte, error) {
	pool, err := buildPool(c)
	if err != nil {
		return [2][]byte{}, err
	}
	return pool[0], nil
}

// finishBody sets the model (unless the body came from a file and --model
// was not given) and the stream flag on a body of proto, and returns its
// plain and streamed encodings.
func finishBody(c *Config, proto *protocol, src []byte, fromFile bool) ([2][]byte, error) {
	var out [2][]byte
	var p fastjson.Parser
	for i, stream := range []bool{false, true} {
		v, err := p.ParseBytes(src)
		if err != nil {
			return out, fmt.Errorf("parse request body: %w", err)
		}
		if v.Type() != fastjson.TypeObject {
			return out, fmt.Errorf("request body must be a JSON object")
		}
		var a fastjson.Arena
		// Gemini names the model in the path, not in the body.
		if proto.name != "gemini" && (!fromFile || c.modelSet) {
			v.Set("model", a.NewString(c.Model))
		}
		proto.setStream(v, &a, stream)
		out[i] = v.MarshalTo(nil)
	}
	return out, nil
}
