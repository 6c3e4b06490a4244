package loadtest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fastjson"
)

// TestGeneratedConversations builds the pool for each protocol: every body
// is valid JSON of the protocol with the asked number of turns ending with
// the user, prompt lengths from the distribution, and the answer length in
// the protocol's own field.
func TestGeneratedConversations(t *testing.T) {
	tests := []struct{ proto, list, text, maxField string }{
		{"chat", "messages", "content", "max_tokens"},
		{"responses", "input", "content", "max_output_tokens"},
		{"anthropic", "messages", "content", "max_tokens"},
		{"gemini", "contents", "", "generationConfig.maxOutputTokens"},
	}
	for _, tc := range tests {
		c, err := parseConfig([]string{"--protocol", tc.proto, "--turns", "3", "--prompt-words", "20..40",
			"--max-tokens", "50..60"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		pool, err := buildPool(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(pool) != poolSize {
			t.Fatalf("%s: pool of %d", tc.proto, len(pool))
		}
		distinct := map[string]bool{}
		for _, pair := range pool {
			v, err := fastjson.ParseBytes(pair[1])
			if err != nil {
				t.Fatalf("%s: %s: %v", tc.proto, pair[1], err)
			}
			distinct[string(pair[0])] = true
			msgs := v.GetArray(tc.list)
			if len(msgs) != 3 {
				t.Fatalf("%s: %d turns in %s", tc.proto, len(msgs), pair[1])
			}
			last := msgs[2]
			text := string(last.GetStringBytes(tc.text))
			if tc.proto == "gemini" {
				text = string(last.GetStringBytes("parts", "0", "text"))
			}
			if n := len(strings.Fields(text)); string(last.GetStringBytes("role")) != "user" || n < 20 || n > 40 {
				t.Errorf("%s: last turn %s", tc.proto, last)
			}
			if m := v.GetInt(strings.Split(tc.maxField, ".")...); m < 50 || m > 60 {
				t.Errorf("%s: %s = %d", tc.proto, tc.maxField, m)
			}
		}
		if len(distinct) < poolSize/2 {
			t.Errorf("%s: only %d distinct bodies", tc.proto, len(distinct))
		}
	}
}

// TestRequestsFile replays recorded requests in rotation: every line
// reaches the target, and a malformed line is named.
func TestRequestsFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "recorded.jsonl")
	lines := `{"model":"a","messages":[{"role":"user","content":"first"}]}

{"model":"b","messages":[{"role":"user","content":"second"}],"max_tokens":3}
{"model":"c","messages":[{"role":"user","content":"third"}]}
`
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	url := startRealMockWith(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 2}, OnRequest: func(_ string, body []byte) {
		v, err := fastjson.ParseBytes(body)
		if err == nil {
			mu.Lock()
			seen[string(v.GetStringBytes("messages", "0", "content"))]++
			mu.Unlock()
		}
	}})
	rep := runTarget(t, url, "--requests-file", file, "-c", "2", "--requests", "6", "-d", "1s", "--ramp", "0")
	if rep.Endpoints[0].Counters.OK != 12 {
		t.Fatalf("ok %d: %v", rep.Endpoints[0].Counters.OK, rep.Endpoints[0].Counters.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["first"] != 4 || seen["second"] != 4 || seen["third"] != 4 {
		t.Errorf("requests per recorded body %v, want 4 each", seen)
	}
	if err := os.WriteFile(file, []byte(lines+"{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig([]string{"--requests-file", file}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildPool(c); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("malformed line: %v", err)
	}
}

// TestMockHonoursMaxTokens: the model profile stops at the answer length a
// request allows, as a model does.
func TestMockHonoursMaxTokens(t *testing.T) {
	p, _ := mockProfile("instant")
	p.Tokens = Dist{Kind: "fixed", A: 500, Max: 600}
	url := startMock(t, &mockServer{wrap: p.Wrap})
	rep := runTarget(t, url, "--max-tokens", "7", "-c", "1", "--requests", "2", "-d", "1s", "--ramp", "0", "--stream", "0.5",
		"--timeout", time.Second.String())
	if c := rep.Endpoints[0].Counters; c.OK != 2 || c.OutputTokens != 14 {
		t.Errorf("counters %+v, want 2 answers of 7 tokens", c)
	}
}

// TestToolConversationsAgainstMock sends --tools conversations in every
// protocol to the mock upstream, which parses them as the real APIs would
// and answers the tool result with text.
func TestToolConversationsAgainstMock(t *testing.T) {
	url := startRealMock(t, mock.Behaviour{Tokens: 3})
	for name := range protocols {
		t.Run(name, func(t *testing.T) {
			rep := runTarget(t, url, "--protocol", name, "--tools", "--turns", "2", "-c", "1", "--requests", "4",
				"-d", "1s", "--ramp", "0", "--api-key", "k")
			if c := rep.Endpoints[0].Counters; c.OK != 4 || c.OutputTokens != 12 {
				t.Errorf("counters %+v", c)
			}
		})
	}
	c, err := parseConfig([]string{"--protocol", "anthropic", "--tools"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := buildPool(c)
	if err != nil {
		t.Fatal(err)
	}
	v := fastjson.MustParseBytes(pool[0][0])
	msgs := v.GetArray("messages")
	if len(msgs) < 3 || string(msgs[len(msgs)-1].GetStringBytes("content", "0", "type")) != "tool_result" ||
		string(v.GetStringBytes("tools", "0", "name")) != toolName {
		t.Errorf("anthropic tool conversation %s", pool[0][0])
	}
}
