package loadtest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

func TestTierDefaultsAndOverrides(t *testing.T) {
	tests := []struct {
		args     []string
		users    int
		requests int
		dur      time.Duration
		ramp     time.Duration
		stream   float64
		mode     string
	}{
		{nil, 10, 50, 60 * time.Second, 2 * time.Second, 0.5, "closed"},
		{[]string{"--tier", "moderate"}, 50, 100, 120 * time.Second, 5 * time.Second, 0.5, "closed"},
		{[]string{"--tier", "heavy"}, 100, 200, 300 * time.Second, 10 * time.Second, 0.7, "closed"},
		{[]string{"--tier", "stress"}, 200, 500, 600 * time.Second, 20 * time.Second, 0.8, "closed"},
		{[]string{"--tier", "stress", "--scale", "0.01"}, 2, 5, 6 * time.Second, 200 * time.Millisecond, 0.8, "closed"},
		{[]string{"--scale", "0.01"}, 1, 1, 600 * time.Millisecond, 20 * time.Millisecond, 0.5, "closed"},
		{[]string{"--users", "3", "--requests", "7", "--duration", "9s", "--ramp", "0", "--stream", "1", "--rate", "50"},
			3, 7, 9 * time.Second, 0, 1, "open"},
	}
	for _, tc := range tests {
		c, err := parseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if c.Users != tc.users || c.Requests != tc.requests || c.Duration != tc.dur || c.Ramp != tc.ramp ||
			c.Stream != tc.stream || c.Mode != tc.mode || c.Total != tc.users*tc.requests {
			t.Errorf("%v: got users %d requests %d dur %v ramp %v stream %v mode %s",
				tc.args, c.Users, c.Requests, c.Duration, c.Ramp, c.Stream, c.Mode)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--tier", "x"}, {"--scale", "0"}, {"--stream", "1.5"}, {"--rate", "-1"}, {"--ramp", "2m", "--duration", "1m"},
		{"--baseline", "http://x"}, {"--pid", "5"}, {"--timeout", "0s"}, {"--interval", "1ms"}, {"extra"},
	} {
		if _, err := parseConfig(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestBuildBodies(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "body.json")
	if err := os.WriteFile(file, []byte(`{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		model string
		extra string
	}{
		{"default", nil, "mock-gpt", ""},
		{"model flag", []string{"--model", "m2"}, "m2", ""},
		{"body file keeps its model", []string{"--body", file}, "gpt-x", "max_tokens"},
		{"body file with model flag", []string{"--body", file, "--model", "m3"}, "m3", "max_tokens"},
	}
	for _, tc := range tests {
		c, err := parseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		bodies, err := buildBodies(c)
		if err != nil {
			t.Fatal(err)
		}
		for i, stream := range []bool{false, true} {
			v, err := fastjson.ParseBytes(bodies[i])
			if err != nil {
				t.Fatalf("%s: body %s: %v", tc.name, bodies[i], err)
			}
			if string(v.GetStringBytes("model")) != tc.model || v.GetBool("stream") != stream ||
				v.GetBool("stream_options", "include_usage") != stream || len(v.GetArray("messages")) != 1 {
				t.Errorf("%s: body %s", tc.name, bodies[i])
			}
			if tc.extra != "" && !v.Exists(tc.extra) {
				t.Errorf("%s: lost field %s", tc.name, tc.extra)
			}
		}
	}
}

func TestUsageShowsTiersAndDefaults(t *testing.T) {
	var out strings.Builder
	if _, err := parseConfig([]string{"--help"}, &out); err == nil {
		t.Fatal("--help did not return ErrHelp")
	}
	for _, want := range []string{"light       10 users x  50 requests over 1m0s, ramp  2s, 50% streamed",
		"stress     200 users x 500 requests over 10m0s", "-c, --users", "-d, --duration", "-r, --rate",
		"(default the tier's (light: 10))", "--grace duration", "(default 5s)", "--protocol", "--sweep"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "-1ns") {
		t.Errorf("help shows a sentinel default:\n%s", out.String())
	}
}
