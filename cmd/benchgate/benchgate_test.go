package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseCSV reads benchstat's CSV of the regressed pair (recorded with
// benchstat from testdata/base.txt and testdata/regressed.txt) and judges it.
func TestParseCSV(t *testing.T) {
	f, err := os.Open("testdata/regressed.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := parseCSV(f, "testdata/base.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Four benchmarks of the baseline, three units each.
	if len(rows) != 12 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	want := map[string]string{
		"github.com/llmproxy/proxy/stream.RelayEvent-2 sec/op":        "REGRESSED",
		"github.com/llmproxy/proxy/stream.RelayStream-2 sec/op":       "noise",
		"github.com/llmproxy/proxy/proxy.ChatPassThrough-2 allocs/op": "REGRESSED",
		"github.com/llmproxy/proxy/proxy.ChatPassThrough-2 B/op":      "ok", // +5.9%, within 10%
		"github.com/llmproxy/proxy/proxy.ChatInProcess-2 sec/op":      "MISSING",
		"github.com/llmproxy/proxy/stream.RelayStream-2 allocs/op":    "ok",
	}
	vs := judge(rows, limits{timePct: 10, bytesPct: 10, alpha: 0.05})
	for _, v := range vs {
		if w, ok := want[v.key()+" "+v.unit]; ok && v.decision != w {
			t.Errorf("%s %s: %s (%+v), want %s", v.key(), v.unit, v.decision, v.row, w)
		}
		if v.key() == "github.com/llmproxy/proxy/stream.RelayEvent-2" && v.unit == "sec/op" &&
			(v.base < 8.03e-08 || v.base > 8.04e-08 || v.p != 0.002 || v.n != "6") {
			t.Errorf("RelayEvent sec/op read as %+v", v.row)
		}
	}
	var out bytes.Buffer
	if !writeTable(&out, vs) {
		t.Errorf("regressions not reported:\n%s", out.String())
	}
	// With the missing benchmark allowed and generous limits, only the
	// extra allocation still fails: allocs/op allow no increase at all.
	vs = judge(rows, limits{timePct: 100, bytesPct: 100, alpha: 0.05, allowMissing: true})
	var failed []string
	for _, v := range vs {
		if v.regress {
			failed = append(failed, v.key()+" "+v.unit)
		}
	}
	if len(failed) != 1 || failed[0] != "github.com/llmproxy/proxy/proxy.ChatPassThrough-2 allocs/op" {
		t.Errorf("failed %v", failed)
	}
}

func TestParseCSVErrors(t *testing.T) {
	for name, in := range map[string]string{
		"row outside a table": "pkg: x\nBench-2,1,2%,2,3%,+1%,p=0.1 n=6\n",
		"bad value":           ",a,,b,,,\n,sec/op,CI,sec/op,CI,vs base,P\nA-2,fast,2%,1,2%,~,p=0.5 n=6\n",
		"bad p":               ",a,,b,,,\n,sec/op,CI,sec/op,CI,vs base,P\nA-2,1,2%,1,2%,~,p=x n=6\n",
	} {
		if _, err := parseCSV(strings.NewReader(in), "a"); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestGateWithBenchstat runs the command with the real benchstat on the
// fixture pairs: the unchanged pair passes, the regressed one fails.
func TestGateWithBenchstat(t *testing.T) {
	if _, err := findBenchstat(""); err != nil {
		t.Skipf("%v (make bench-check installs it)", err)
	}
	cases := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"unchanged", []string{"testdata/base.txt", "testdata/same.txt"}, 0, []string{"bench-check: PASS"}},
		{"regressed", []string{"testdata/base.txt", "testdata/regressed.txt"}, 1,
			[]string{"bench-check: FAIL", "MISSING", "noise", "stream.RelayEvent-2      sec/op", "proxy.ChatPassThrough-2  allocs/op  4          5"}},
		{"time within 50%, allocs still", []string{"-time", "50", "-allow-missing", "testdata/base.txt", "testdata/regressed.txt"}, 1,
			[]string{"bench-check: FAIL"}},
		{"no baseline", []string{"testdata/none.txt", "testdata/same.txt"}, 2, []string{"make bench-baseline"}},
		{"one file", []string{"testdata/base.txt"}, 2, []string{"usage"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.wants {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// A benchmark file that is not one: benchstat compares nothing.
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("PASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if code := run([]string{empty, empty}, &so, &se); code != 2 {
		t.Errorf("empty inputs: exit %d: %s%s", code, so.String(), se.String())
	}
}

// TestParseCSVOneInputTables: a package that ran in one input only has a
// table of that input alone; its rows are that input's.
func TestParseCSVOneInputTables(t *testing.T) {
	in := "pkg: a\n,base.txt,\n,sec/op,CI\nOld-2,1e-06,2%\ngeomean,1e-06,\n\n" +
		"pkg: b\n,new.txt,\n,sec/op,CI\nNew-2,2e-06,3%\ngeomean,2e-06,\n\n" +
		"pkg: c\n,base.txt,,new.txt,,,\n,sec/op,CI,sec/op,CI,vs base,P\nBoth-2,1e-06,2%,1e-06,2%,~,p=0.5 n=6\n"
	rows, err := parseCSV(strings.NewReader(in), "base.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.key()] = fmt.Sprint(r.hasBase, r.hasCur)
	}
	want := map[string]string{"a.Old-2": "true false", "b.New-2": "false true", "c.Both-2": "true true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
}

// TestGateOnePackageMissing: a run of fewer packages than the baseline
// (BENCH_PKGS narrowed) fails as MISSING, and passes with -allow-missing.
func TestGateOnePackageMissing(t *testing.T) {
	if _, err := findBenchstat(""); err != nil {
		t.Skipf("%v (make bench-check installs it)", err)
	}
	same, err := os.ReadFile("testdata/same.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Only the stream package's part of the run.
	cut := bytes.Index(same, []byte("pkg: github.com/llmproxy/proxy/proxy"))
	if cut < 0 {
		t.Fatal("testdata/same.txt lacks the proxy package")
	}
	partial := filepath.Join(t.TempDir(), "partial.txt")
	if err := os.WriteFile(partial, same[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"testdata/base.txt", partial}, 1, "MISSING"},
		{[]string{"-allow-missing", "testdata/base.txt", partial}, 0, "bench-check: PASS"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if out := stdout.String() + stderr.String(); code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
}
