//go:build agents

package agents

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fasthttp"
)

// TestRecordShapes records what each CLI really sends, headers and bodies
// with keys, ids and local paths replaced, into
// providers/convert/testdata/agents, where the converters' golden tests
// replay them. It runs only when asked: AGENTS_RECORD=1 (make agents-record).
func TestRecordShapes(t *testing.T) {
	if os.Getenv("AGENTS_RECORD") == "" {
		t.Skip("set AGENTS_RECORD=1 to re-record the CLIs' request shapes")
	}
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(filepath.Dir(file), "..", "..", "providers", "convert", "testdata", "agents")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		for _, turn := range []string{"plain", "tool"} {
			t.Run(c.name+"/"+turn, func(t *testing.T) {
				cap := &capture{}
				base := startCapture(t, cap)
				work := t.TempDir()
				prompt := "Say hello."
				if turn == "tool" {
					path := filepath.Join(work, "note.txt")
					writeFile(t, path, "NONCE\n")
					prompt = "Read the note. " + c.toolMarker(path, "note.txt")
				}
				r := run(t, c, base, work, prompt)
				if r.err != nil {
					t.Fatalf("%v\nstdout: %s\nstderr: %s", r.err, tail(r.stdout, 2000), tail(r.stderr, 3000))
				}
				clean := cleaner(work, filepath.Dir(filepath.Dir(binDir(t))))
				for i, req := range cap.all() {
					name := fmt.Sprintf("%s_%s_%d", c.name, turn, i+1)
					writeFile(t, filepath.Join(out, name+".headers"), clean(req.head))
					writeFile(t, filepath.Join(out, name+".json"), clean(req.body))
				}
			})
		}
	}
}

// captured is one request as the upstream got it.
type captured struct{ head, body string }

type capture struct {
	mu   sync.Mutex
	reqs []captured
}

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

// secretHeaders are replaced by a placeholder in recordings.
var secretHeaders = map[string]bool{"authorization": true, "x-api-key": true, "x-goog-api-key": true}

// startCapture runs the mock upstream behind a handler that records every
// POST (generation requests; model lists are not kept) and returns its
// base URL.
func startCapture(t *testing.T, c *capture) string {
	m := mock.NewServer(mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: mockTokens}})
	h := m.Handler()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			c.mu.Lock()
			c.reqs = append(c.reqs, captured{head: headOf(ctx), body: string(ctx.PostBody())})
			c.mu.Unlock()
		}
		h(ctx)
	}}
	ln := listen(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
	})
	return "http://" + ln.Addr().String()
}

// headOf is the request line and the headers, sorted, secrets replaced.
func headOf(ctx *fasthttp.RequestCtx) string {
	uri := string(ctx.RequestURI())
	if u, err := url.Parse(uri); err == nil && u.Query().Has("key") {
		q := u.Query()
		q.Set("key", "REDACTED")
		u.RawQuery = q.Encode()
		uri = u.String()
	}
	var lines []string
	for k, v := range ctx.Request.Header.All() {
		name := strings.ToLower(string(k))
		val := string(v)
		switch {
		case secretHeaders[name]:
			val = "REDACTED"
		case name == "host" || name == "content-length":
			continue
		}
		lines = append(lines, name+": "+val)
	}
	sort.Strings(lines)
	return string(ctx.Method()) + " " + uri + "\n" + strings.Join(lines, "\n") + "\n"
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	hex64  = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	// The client-side timestamps and versions of the runtime vary per run.
	unixMS = regexp.MustCompile(`(turn_started_at_unix_ms\\?":)\d+`)
)

// cleaner replaces what varies between runs or machines: the work
// directory, the temporary HOME, the install prefix, session and device ids, timestamps.
func cleaner(work, prefix string) func(string) string {
	real, err := filepath.EvalSymlinks(prefix)
	if err != nil {
		real = prefix
	}
	return func(s string) string {
		// The CLIs' install prefix (Gemini CLI names its bundled skills' paths).
		s = strings.ReplaceAll(s, real, "/opt/agents")
		s = strings.ReplaceAll(s, prefix, "/opt/agents")
		s = strings.ReplaceAll(s, work, "/work")
		// HOME is a sibling of the work directory.
		s = strings.ReplaceAll(s, filepath.Dir(work), "/tmp/agents")
		// Claude Code names its project folder after the path, with dashes.
		s = strings.ReplaceAll(s, strings.ReplaceAll(filepath.Dir(work), "/", "-"), "-tmp-agents")
		s = uuidRE.ReplaceAllString(s, "00000000-0000-0000-0000-000000000000")
		s = hex64.ReplaceAllString(s, strings.Repeat("0", 64))
		return unixMS.ReplaceAllString(s, "${1}0")
	}
}
