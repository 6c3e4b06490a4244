package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden upstream requests under testdata/upstream")

// agentFixtures are requests the real agent CLIs sent (recorded by make
// agents-record), replayed here as the clients' side.
// Each is a turn that carries a tool result, the richest shape.
var agentFixtures = []string{"claude_tool_2", "codex_tool_2", "gemini_tool_2"}

// TestSubscriptionUpstreamGoldens pins every request the proxy sends to a
// subscription backend (ChatGPT's Codex backend, Code Assist as the Gemini
// CLI and as Antigravity use it): method, path, headers and body, for each
// agent CLI's recorded requests, so that a change to what reaches those
// backends shows in review. go test -run Goldens ./proxy/ -update rewrites
// them. Values that are random per request are masked.
func TestSubscriptionUpstreamGoldens(t *testing.T) {
	for _, typ := range []string{config.TypeCodex, config.TypeGeminiCLI, config.TypeAntigravity} {
		t.Run(typ, func(t *testing.T) {
			rec := &upstreamRecorder{}
			base := startUpstream(t, rec.handler(typ))
			_, url := startFaultProxy(t, baseConfig(goldenProvider(t, typ, base)))
			hc := httpClient(t)
			for _, name := range agentFixtures {
				rec.reset()
				path, hdr, body := readAgentFixture(t, name)
				res, out := do(t, hc, "POST", url+path, string(body), hdr)
				if res.StatusCode != 200 {
					t.Fatalf("%s through %s: %d %s", name, typ, res.StatusCode, out)
				}
				checkGolden(t, filepath.Join("testdata", "upstream", typ, name+".http"), rec.dump())
			}
		})
	}
}

// goldenProvider is a provider of type typ with one signed-in account.
func goldenProvider(t *testing.T, typ, base string) config.Provider {
	dir := t.TempDir()
	exp := time.Now().Add(time.Hour)
	var cred string
	switch typ {
	case config.TypeCodex:
		cred = `{"type":"codex","email":"a@example.com","access_token":"at-golden","refresh_token":"rt","account_id":"acct-golden","expires_at":"` +
			exp.UTC().Format(time.RFC3339) + `"}`
		base += "/backend-api/codex"
	default:
		cred = fmt.Sprintf(`{"access_token":"at-golden","refresh_token":"rt","expiry_date":%d}`, exp.UnixMilli())
	}
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(cred), 0o600); err != nil {
		t.Fatal(err)
	}
	// QuotaInterval -1: the background quota check runs at its own time,
	// which would make the recorded requests differ run to run.
	p := config.Provider{Name: "sub", Type: typ, BaseURL: base, Credentials: dir, Models: []string{"*"},
		ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, QuotaInterval: -1}
	if typ == config.TypeAntigravity {
		p.OAuth.ClientID = "golden-client"
	}
	return p
}

// readAgentFixture reads a recorded agent request: its path (on the
// proxy: the recording's own path), the protocol headers to send with the
// test key, and the body.
func readAgentFixture(t *testing.T, name string) (string, map[string]string, []byte) {
	dir := filepath.Join("..", "providers", "convert", "testdata", "agents")
	body, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, name+".headers"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	_, path, _ := strings.Cut(sc.Text(), " ")
	hdr := map[string]string{"Content-Type": "application/json"}
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch strings.ToLower(k) {
		case "anthropic-version", "anthropic-beta", "openai-beta":
			hdr[k] = v
		}
	}
	switch {
	case strings.HasPrefix(name, "claude"):
		hdr["x-api-key"] = testKey
	case strings.HasPrefix(name, "gemini"):
		hdr["x-goog-api-key"] = testKey
	default:
		hdr["Authorization"] = "Bearer " + testKey
	}
	return path, hdr, body
}

// upstreamRecorder answers as a subscription backend and keeps what each
// request looked like.
type upstreamRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *upstreamRecorder) reset() { r.mu.Lock(); r.seen = nil; r.mu.Unlock() }

func (r *upstreamRecorder) dump() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []byte(strings.Join(r.seen, "\n---\n"))
}

func (r *upstreamRecorder) handler(typ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.seen = append(r.seen, describeRequest(req, b))
		r.mu.Unlock()
		switch {
		case typ == config.TypeCodex:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, goldenCodexStream)
		case strings.HasSuffix(req.URL.Path, ":loadCodeAssist"):
			io.WriteString(w, `{"cloudaicompanionProject":"golden-project"}`)
		case strings.HasSuffix(req.URL.Path, ":countTokens"):
			io.WriteString(w, `{"totalTokens":3}`)
		default:
			chunk := `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello."}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}`
			if req.URL.Query().Get("alt") == "sse" {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "data: {\"response\":%s}\n\n", chunk)
				return
			}
			fmt.Fprintf(w, `{"response":%s}`, chunk)
		}
	})
}

const goldenCodexStream = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n" +
	"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}}\n\n" +
	"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello.\"}\n\n" +
	"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":3,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello.\"}]}}\n\n" +
	"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello.\"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}}\n\n"

// randomPerRequest masks the values a backend request carries that differ
// on every request by design.
var randomPerRequest = regexp.MustCompile(`("requestId": )"[^"]*"`)

// describeRequest renders a request for a golden file: the request line,
// the headers sorted (without those of the transport: Host names a random
// port, Content-Length follows the body), and the body indented.
func describeRequest(req *http.Request, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", req.Method, req.URL.RequestURI())
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		switch k {
		case "Content-Length", "Accept-Encoding":
			continue
		}
		if k == "X-Request-Id" {
			// Made per request; only its presence is pinned.
			fmt.Fprintf(&b, "%s: (per request)\n", k)
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(req.Header[k], ", "))
	}
	b.WriteByte('\n')
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") == nil {
		body = randomPerRequest.ReplaceAll(pretty.Bytes(), []byte(`$1"(random)"`))
	}
	b.Write(body)
	b.WriteByte('\n')
	return b.String()
}

// checkGolden compares got with the file, or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
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
		t.Fatalf("%v (go test -run Goldens ./proxy/ -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the proxy sent now (-update rewrites it):\n%s", path, got)
	}
}
