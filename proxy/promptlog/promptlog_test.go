package promptlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/redact"
)

type line struct {
	TS        string          `json:"ts"`
	RequestID string          `json:"request_id"`
	Ingress   string          `json:"ingress"`
	Model     string          `json:"model"`
	Body      json.RawMessage `json:"body"`
	Truncated int             `json:"truncated"`
}

func readLines(t *testing.T, path string) []line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: invalid JSON line %q: %v", path, sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewModes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		mode, path string
		files      int
		wantNil    bool
		wantErr    string
	}{
		{mode: "off", wantNil: true},
		{mode: "", wantNil: true},
		{mode: "console"},
		{mode: "file", path: filepath.Join(dir, "p.log")},
		{mode: "file", wantErr: "needs a path"},
		{mode: "file", path: filepath.Join(dir, "x.log"), files: -1, wantErr: "negative"},
		{mode: "file", path: filepath.Join(dir, "missing", "p.log"), wantErr: "open"},
		{mode: "syslog", wantErr: "unknown mode"},
	}
	for _, tc := range tests {
		l, err := New(tc.mode, tc.path, 0, tc.files, nil)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%q,%q): err %v, want %q", tc.mode, tc.path, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tc.mode, err)
			continue
		}
		if (l == nil) != tc.wantNil || l.Enabled() == tc.wantNil {
			t.Errorf("New(%q): logger nil=%v enabled=%v", tc.mode, l == nil, l.Enabled())
		}
		l.Log("id", "openai", "m", []byte(`{}`)) // nil logger must accept it too
		if err := l.Close(); err != nil {
			t.Errorf("Close(%q): %v", tc.mode, err)
		}
	}
}

func TestFileLineFormatAndRedaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prompts.log")
	red := redact.New([]string{"upstream-secret-123"})
	l, err := New(ModeFile, path, 0, 0, red)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, model string
		body        string
		wantBody    string // raw JSON as written
	}{
		{"json body kept as json", "gpt-4o", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`},
		{"key in prompt masked", "gpt-4o", `{"messages":[{"content":"my key is sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA ok"}]}`, `{"messages":[{"content":"my key is [REDACTED] ok"}]}`},
		{"configured secret masked", "claude", `{"system":"use upstream-secret-123"}`, `{"system":"use [REDACTED]"}`},
		{"non-json body as string", "gemini-pro", "not json\n", `"not json\n"`},
		{"redaction breaking json falls back to string", "m", `{"api_key":12345}`, `"{\"api_key\":[REDACTED]}"`},
	}
	for i, tc := range tests {
		l.Log("req-"+strconv.Itoa(i), "openai", tc.model, []byte(tc.body))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("prompt log mode %v, want 0600", st.Mode().Perm())
	}
	lines := readLines(t, path)
	if len(lines) != len(tests) {
		t.Fatalf("%d lines, want %d", len(lines), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := lines[i]
			if l.RequestID != "req-"+strconv.Itoa(i) || l.Ingress != "openai" || l.Model != tc.model {
				t.Fatalf("fields: %+v", l)
			}
			if _, err := time.Parse(time.RFC3339Nano, l.TS); err != nil {
				t.Fatalf("ts %q: %v", l.TS, err)
			}
			if string(l.Body) != tc.wantBody {
				t.Fatalf("body %s, want %s", l.Body, tc.wantBody)
			}
		})
	}
	if s := l.Stats(); s.Written != uint64(len(tests)) || s.Dropped != 0 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.log")
	const maxBytes, maxFiles, n = 1000, 2, 60
	l, err := New(ModeFile, path, maxBytes, maxFiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"content":"` + strings.Repeat("x", 100) + `"}`)
	for i := 0; i < n; i++ {
		l.Log("id-"+strconv.Itoa(i), "anthropic", "claude", body)
		if i%10 == 9 {
			// Let the writer catch up so no entry is dropped.
			waitWritten(t, l, uint64(i+1))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, name := range []string{path + ".2", path + ".1", path} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatalf("expected %s: %v", name, err)
		}
		if st.Size() > maxBytes {
			t.Errorf("%s is %d bytes, over %d", name, st.Size(), maxBytes)
		}
		for _, ln := range readLines(t, name) {
			id, _ := strconv.Atoi(strings.TrimPrefix(ln.RequestID, "id-"))
			ids = append(ids, id)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("%s.3 exists beyond maxFiles: %v", path, err)
	}
	// The kept files hold the newest entries, in order, ending with the last.
	if len(ids) == 0 || ids[len(ids)-1] != n-1 {
		t.Fatalf("ids %v do not end with %d", ids, n-1)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("ids not consecutive across rotated files: %v", ids)
		}
	}
}

func TestRotationWithoutBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.log")
	l, err := New(ModeFile, path, 300, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		l.Log("id", "gemini", "g", []byte(`{"a":"`+strings.Repeat("y", 80)+`"}`))
		waitWritten(t, l, uint64(i+1))
	}
	l.Close()
	if st, err := os.Stat(path); err != nil || st.Size() > 300 {
		t.Fatalf("stat %v size over limit", err)
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Fatalf("backup created with maxFiles 0")
	}
}

func TestTruncatesHugeBody(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.log")
	l, err := New(ModeFile, path, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("z"), MaxBodyBytes+10)
	l.Log("id", "openai", "m", big)
	l.Close()
	lines := readLines(t, path)
	if len(lines) != 1 || lines[0].Truncated != MaxBodyBytes+10 || len(lines[0].Body) != MaxBodyBytes+2 {
		t.Fatalf("truncation: %d lines, truncated=%d, body len %d", len(lines), lines[0].Truncated, len(lines[0].Body))
	}
}

// blockingWriter stalls until released, standing in for a stuck console.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	l := start(w, nil, nil)
	const n = QueueSize + 200
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			l.Log("id", "openai", "m", []byte(`{}`))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Log blocked on a stuck writer")
	}
	st := l.Stats()
	// One entry may sit in the writer, QueueSize in the queue; the rest drop.
	if st.Dropped < n-QueueSize-1 {
		t.Fatalf("dropped %d, want at least %d", st.Dropped, n-QueueSize-1)
	}
	close(w.release)
	l.Close()
	st = l.Stats()
	if st.Written+st.Dropped != n {
		t.Fatalf("written %d + dropped %d != %d", st.Written, st.Dropped, n)
	}
	if got := uint64(bytes.Count(w.buf.Bytes(), []byte("\n"))); got != st.Written {
		t.Fatalf("%d lines on the writer, stats say %d", got, st.Written)
	}
	l.Log("late", "openai", "m", nil)
	if l.Stats().Dropped != st.Dropped+1 {
		t.Fatal("Log after Close not counted as dropped")
	}
}

func TestConcurrentLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.log")
	l, err := New(ModeFile, path, 4096, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := []byte(`{"g":0}`)
			for i := 0; i < 100; i++ {
				l.Log("id", "openai", "m", buf)
				buf[5] = byte('0' + i%10) // caller reuses its buffer at once
			}
		}(g)
	}
	wg.Wait()
	l.Close()
	st := l.Stats()
	var lines int
	matches, _ := filepath.Glob(path + "*")
	for _, m := range matches {
		lines += len(readLines(t, m))
	}
	if uint64(lines) != st.Written || st.Written+st.Dropped != 400 {
		t.Fatalf("lines %d, stats %+v", lines, st)
	}
}

func TestLogDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	w := &blockingWriter{release: make(chan struct{})}
	close(w.release)
	l := start(w, nil, nil)
	defer l.Close()
	body := []byte(`{"model":"gpt-4o","messages":[]}`)
	for i := 0; i < 100; i++ {
		l.Log("id", "openai", "gpt-4o", body)
	}
	waitWritten(t, l, 100)
	// Each call waits for the writer to return its entry to the pool: on a
	// busy machine the writer lags, and a call that finds the pool empty
	// measures the scheduler, not Log.
	logged := func() {
		before := l.Stats().Written
		l.Log("id", "openai", "gpt-4o", body)
		for l.Stats().Written == before {
			runtime.Gosched()
		}
	}
	if n := testing.AllocsPerRun(200, logged); n > 0.5 {
		t.Fatalf("Log allocates %v times per call", n)
	}
}

func waitWritten(t *testing.T, l *Logger, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().Written+l.Stats().Dropped < n {
		if time.Now().After(deadline) {
			t.Fatalf("writer stuck at %+v, want %d", l.Stats(), n)
		}
		time.Sleep(time.Millisecond) // waiting on the writer goroutine, not asserting
	}
}
