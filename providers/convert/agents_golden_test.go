package convert

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// The requests under testdata/agents are what Claude Code, Codex CLI and
// Gemini CLI really sent (recorded by `make agents-record`, secrets and
// local paths replaced). Each is inspected and converted to every other
// protocol; the facts that matter (model, stream, tools, system text in
// order, the user's prompt, tool results) must survive, and a summary of
// the request's shape is a golden file, so that a new CLI version that
// sends something new fails here instead of in a user's terminal.

// agentRecording is one recorded request.
type agentRecording struct {
	name   string
	proto  wire.Protocol
	model  string // from the body, or Gemini's URL
	stream bool
	head   string
	body   []byte
}

func loadAgentRecordings(t *testing.T) []agentRecording {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "agents", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings under testdata/agents: %v", err)
	}
	var out []agentRecording
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		head, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".headers")
		if err != nil {
			t.Fatal(err)
		}
		r := agentRecording{name: name, head: string(head), body: body}
		line, _, _ := strings.Cut(r.head, "\n")
		_, uri, _ := strings.Cut(line, " ")
		path, query, _ := strings.Cut(uri, "?")
		switch {
		case path == "/v1/messages":
			r.proto = wire.Anthropic
		case path == "/v1/responses":
			r.proto = wire.OpenAIResponses
		case path == "/v1/chat/completions":
			r.proto = wire.OpenAIChat
		case strings.Contains(path, "/models/"):
			r.proto = wire.Gemini
			action := path[strings.Index(path, "/models/")+len("/models/"):]
			model, method, _ := strings.Cut(action, ":")
			r.model, r.stream = model, method == "streamGenerateContent"
			_ = query
		default:
			t.Fatalf("%s: unknown endpoint %q", name, path)
		}
		if r.proto != wire.Gemini {
			var b struct {
				Model  string `json:"model"`
				Stream bool   `json:"stream"`
			}
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			r.model, r.stream = b.Model, b.Stream
		}
		out = append(out, r)
	}
	return out
}

// TestAgentRecordingsInspect: the router reads each recorded request.
func TestAgentRecordingsInspect(t *testing.T) {
	for _, r := range loadAgentRecordings(t) {
		t.Run(r.name, func(t *testing.T) {
			model, stream, err := Inspect(r.proto, r.body)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if r.proto != wire.Gemini && (model != r.model || stream != r.stream) {
				t.Fatalf("Inspect = %q stream %v, want %q stream %v", model, stream, r.model, r.stream)
			}
		})
	}
}

// TestAgentRecordingsConvert converts each recorded request to every other
// protocol and checks that what the model needs arrived.
func TestAgentRecordingsConvert(t *testing.T) {
	for _, r := range loadAgentRecordings(t) {
		f := agentFacts(t, r)
		for _, to := range protocols {
			if to == r.proto {
				continue
			}
			t.Run(r.name+"/to_"+to.String(), func(t *testing.T) {
				out, err := Request(r.proto, to, r.body, "upstream-model", r.stream)
				if err != nil {
					t.Fatalf("Request %s -> %s: %v", r.proto, to, err)
				}
				strs := jsonStrings(t, out)
				if to != wire.Gemini && !contains(strs, "upstream-model") {
					t.Errorf("the upstream model is not named")
				}
				all := strings.Join(strs, "\x00")
				for _, tool := range f.tools {
					if !hasToolName(strs, tool) {
						t.Errorf("tool %q was not carried", tool)
					}
				}
				at := 0
				for i, sys := range f.system {
					j := strings.Index(all[at:], snippet(sys))
					if j < 0 {
						t.Errorf("system text %d (%q) missing or out of order", i, snippet(sys))
						continue
					}
					at += j
				}
				if f.prompt != "" && !strings.Contains(all, snippet(f.prompt)) {
					t.Errorf("the user's prompt %q was not carried", snippet(f.prompt))
				}
				if strings.Contains(string(r.body), "NONCE") && !strings.Contains(all, "NONCE") {
					t.Errorf("the tool result was not carried")
				}
			})
		}
	}
}

// TestAgentRecordingsShape keeps a summary of each recording's shape as a
// golden file: re-recording with a new CLI version shows what changed.
func TestAgentRecordingsShape(t *testing.T) {
	for _, r := range loadAgentRecordings(t) {
		t.Run(r.name, func(t *testing.T) {
			checkGolden(t, "agents/"+r.name+".facts", agentShape(t, r))
		})
	}
}

// facts are what a conversion must carry.
type facts struct {
	tools  []string // function and custom tool names (hosted tools excluded)
	system []string // system/developer texts in order
	prompt string   // the last user text
}

// toolsOf collects the function-like tool names of a tools array,
// descending into Responses namespaces.
func toolsOf(tools []any, into *[]string, hosted *[]string) {
	for _, x := range tools {
		m, _ := x.(map[string]any)
		typ, _ := m["type"].(string)
		name, _ := m["name"].(string)
		switch {
		case typ == "namespace":
			sub, _ := m["tools"].([]any)
			toolsOf(sub, into, hosted)
		case m["functionDeclarations"] != nil:
			for _, d := range m["functionDeclarations"].([]any) {
				*into = append(*into, d.(map[string]any)["name"].(string))
			}
		case typ == "function" && m["function"] != nil:
			*into = append(*into, m["function"].(map[string]any)["name"].(string))
		case typ == "" || typ == "function" || typ == "custom":
			if name != "" {
				*into = append(*into, name)
			}
		default:
			*hosted = append(*hosted, typ)
		}
	}
}

func agentFacts(t *testing.T, r agentRecording) facts {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	var f facts
	var hosted []string
	tools, _ := b["tools"].([]any)
	toolsOf(tools, &f.tools, &hosted)
	texts := func(v any) []string {
		switch c := v.(type) {
		case string:
			return []string{c}
		case []any:
			var out []string
			for _, p := range c {
				if s, ok := p.(map[string]any)["text"].(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
		return nil
	}
	switch r.proto {
	case wire.Anthropic:
		f.system = texts(b["system"])
		for _, m := range b["messages"].([]any) {
			m := m.(map[string]any)
			switch m["role"] {
			case "system":
				f.system = append(f.system, texts(m["content"])...)
			case "user":
				if ts := texts(m["content"]); len(ts) > 0 {
					f.prompt = ts[len(ts)-1]
				}
			}
		}
	case wire.OpenAIResponses:
		if s, ok := b["instructions"].(string); ok {
			f.system = append(f.system, s)
		}
		for _, it := range b["input"].([]any) {
			it := it.(map[string]any)
			if it["type"] == "additional_tools" {
				sub, _ := it["tools"].([]any)
				toolsOf(sub, &f.tools, &hosted)
				continue
			}
			switch it["role"] {
			case "system", "developer":
				f.system = append(f.system, texts(it["content"])...)
			case "user":
				if ts := texts(it["content"]); len(ts) > 0 {
					f.prompt = ts[len(ts)-1]
				}
			}
		}
	case wire.Gemini:
		if si, ok := b["systemInstruction"].(map[string]any); ok {
			f.system = texts(si["parts"])
		}
		for _, c := range b["contents"].([]any) {
			c := c.(map[string]any)
			if c["role"] == "user" {
				if ts := texts(c["parts"]); len(ts) > 0 {
					f.prompt = ts[len(ts)-1]
				}
			}
		}
	}
	return f
}

// agentShape summarises a recording: endpoint, model, the body's fields,
// tools by kind, turns by role or item type, and the headers' names.
func agentShape(t *testing.T, r agentRecording) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	line, rest, _ := strings.Cut(r.head, "\n")
	w.WriteString("request: " + line + "\n")
	w.WriteString("protocol: " + r.proto.String() + "\nmodel: " + r.model + "\n")
	if r.stream {
		w.WriteString("stream: true\n")
	}
	var names []string
	for _, h := range strings.Split(strings.TrimSpace(rest), "\n") {
		k, v, _ := strings.Cut(h, ": ")
		if strings.HasPrefix(k, "anthropic-") || k == "openai-beta" || k == "x-codex-beta-features" {
			k += "=" + v
		}
		names = append(names, k)
	}
	w.WriteString("headers: " + strings.Join(names, ", ") + "\n")
	var fields []string
	for k := range b {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	w.WriteString("fields: " + strings.Join(fields, ", ") + "\n")
	var tools, hosted []string
	list, _ := b["tools"].([]any)
	toolsOf(list, &tools, &hosted)
	var turns []string
	for _, key := range []string{"messages", "input", "contents"} {
		items, _ := b[key].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			kind, _ := m["type"].(string)
			if role, ok := m["role"].(string); ok && (kind == "" || kind == "message") {
				kind = role
			}
			if kind == "additional_tools" {
				sub, _ := m["tools"].([]any)
				toolsOf(sub, &tools, &hosted)
			}
			turns = append(turns, kind+partKinds(m))
		}
	}
	w.WriteString("tools: " + strings.Join(tools, ", ") + "\n")
	if len(hosted) > 0 {
		w.WriteString("hosted tools: " + strings.Join(hosted, ", ") + "\n")
	}
	w.WriteString("turns: " + strings.Join(turns, ", ") + "\n")
	return w.Bytes()
}

// partKinds lists the types of a turn's content blocks or parts, e.g.
// "(text,tool_result)".
func partKinds(m map[string]any) string {
	var kinds []string
	for _, key := range []string{"content", "parts"} {
		parts, _ := m[key].([]any)
		for _, p := range parts {
			pm, _ := p.(map[string]any)
			k, _ := pm["type"].(string)
			if k == "" {
				for name := range pm {
					if name != "thought" && name != "thoughtSignature" {
						k = name
					}
				}
			}
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return ""
	}
	return "(" + strings.Join(kinds, ",") + ")"
}

// jsonStrings returns every string value and key of a JSON document, in
// document order.
func jsonStrings(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("converted body is not JSON: %v", err)
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hasToolName: a tool is carried under its name, or flattened out of a
// namespace under a name that ends in it after a separator.
func hasToolName(strs []string, name string) bool {
	for _, s := range strs {
		if s == name || strings.HasSuffix(s, name) && len(s) > len(name) && !isIdent(s[len(s)-len(name)-1]) {
			return true
		}
	}
	return false
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// snippet is the start of a text, enough to find it again after a
// conversion joined or split texts.
func snippet(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
