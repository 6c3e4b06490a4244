package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportFolderAndRequestLog: by default a run writes its reports into
// a named folder; --request-log adds one JSON line per request there.
func TestReportFolderAndRequestLog(t *testing.T) {
	url := startMock(t, &mockServer{opts: mockOpts{Tokens: 3}})
	out := filepath.Join(t.TempDir(), "run1")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--target", url, "-c", "2", "--requests", "5", "-d", "1s", "--ramp", "0",
		"--out", out, "--request-log", "requests.jsonl"}, &stdout, &stderr, nil)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"report.txt", "report.json", "report.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	f, err := os.Open(filepath.Join(out, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, streams := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Endpoint  string  `json:"endpoint"`
			Stream    bool    `json:"stream"`
			Outcome   string  `json:"outcome"`
			LatencyMs float64 `json:"latency_ms"`
			TTFTMs    float64 `json:"ttft_ms"`
			Tokens    int     `json:"tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d %q: %v", lines+1, sc.Text(), err)
		}
		lines++
		if rec.Endpoint != "target" || rec.Outcome != "ok" || rec.LatencyMs <= 0 || rec.Tokens != 3 ||
			(rec.Stream && rec.TTFTMs <= 0) {
			t.Errorf("record %s", sc.Text())
		}
		if rec.Stream {
			streams++
		}
	}
	if lines != 10 || streams != 5 {
		t.Errorf("%d lines, %d streams; want 10 and 5", lines, streams)
	}

	// Without --out, --json or --html: a dated folder named after the tier
	// under ./loadtest-results (the tests run in a temporary directory).
	stdout.Reset()
	stderr.Reset()
	if code := Main(context.Background(), []string{"--target", url, "-c", "1", "--requests", "1", "-d", "1s"}, &stdout, &stderr, nil); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	dirs, _ := filepath.Glob(filepath.Join("loadtest-results", "*-light", "report.json"))
	if len(dirs) == 0 || !strings.Contains(stderr.String(), "reports written to loadtest-results/") {
		t.Errorf("no default report folder: %v\n%s", dirs, stderr.String())
	}
}
