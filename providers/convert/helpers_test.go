package convert

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var protocols = []wire.Protocol{wire.OpenAIChat, wire.OpenAIResponses, wire.Anthropic, wire.Gemini}

type sseEvent struct{ name, data []byte }

// parseSSE splits an SSE body into events the way the lead's parser does:
// blank-line separated, data lines joined with "\n".
func parseSSE(b []byte) []sseEvent {
	var out []sseEvent
	for _, block := range bytes.Split(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n\n")) {
		var ev sseEvent
		has := false
		for _, line := range bytes.Split(block, []byte("\n")) {
			switch {
			case bytes.HasPrefix(line, []byte("event:")):
				ev.name = bytes.TrimSpace(line[len("event:"):])
			case bytes.HasPrefix(line, []byte("data:")):
				d := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
				if has {
					ev.data = append(append(ev.data, '\n'), d...)
				} else {
					ev.data = append([]byte(nil), d...)
				}
				has = true
			}
		}
		if has {
			out = append(out, ev)
		}
	}
	return out
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "in", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var timestamps = regexp.MustCompile(`"(created|created_at)":[0-9]+`)

// normalize pins the wall-clock fields so goldens are stable.
func normalize(b []byte) []byte { return timestamps.ReplaceAll(b, []byte(`"$1":0`)) }

func pretty(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, normalize(b), "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	return append(buf.Bytes(), '\n')
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join("testdata", "golden", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden (run with -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkStreamOutput checks every client event of an SSE output carries JSON
// (or the Chat [DONE] marker) and returns the parsed events.
func checkStreamOutput(t testing.TB, out []byte) []sseEvent {
	t.Helper()
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n\n")) {
		t.Fatalf("stream output does not end with a blank line: %q", out)
	}
	evs := parseSSE(out)
	for i, ev := range evs {
		if string(ev.data) == "[DONE]" {
			continue
		}
		if !json.Valid(ev.data) {
			t.Fatalf("event data is not JSON: %s", ev.data)
		}
		if isErrorEvent(ev) && i != len(evs)-1 {
			t.Fatalf("event %d of %d follows an error event: %s", i+1, len(evs), out)
		}
	}
	return evs
}

// isErrorEvent tells an in-stream error event of any protocol: Anthropic's
// and Responses' "error" events, Chat's and Gemini's {"error":{…}} chunk.
func isErrorEvent(ev sseEvent) bool {
	if string(ev.name) == "error" {
		return true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(ev.data, &obj) != nil {
		return false
	}
	_, ok := obj["error"]
	return ok && len(obj) == 1
}

// runStream feeds an SSE fixture through a Stream, returning the client
// output.
func runStream(t testing.TB, from, to wire.Protocol, framing Framing, fixture []byte) []byte {
	t.Helper()
	s := NewStream(from, to, "client-model", framing)
	var out []byte
	for _, ev := range parseSSE(fixture) {
		var err error
		if out, err = s.Event(out, ev.name, ev.data); err != nil {
			t.Fatalf("Event(%s): %v", ev.data, err)
		}
	}
	if !s.Done() {
		t.Fatalf("upstream terminator not recognised")
	}
	out, err := s.End(out)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	return out
}
