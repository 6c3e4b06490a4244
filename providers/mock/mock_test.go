package mock

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// TestAnswerEvents checks the event sequence: role, content, finish,
// optional usage, [DONE]; and that content joins up to Text.
func TestAnswerEvents(t *testing.T) {
	for _, tc := range []struct {
		tokens int
		usage  bool
	}{{0, false}, {1, false}, {20, false}, {20, true}, {40, true}} {
		a := Answer{Model: "m", Tokens: tc.tokens, PromptTokens: 3, IncludeUsage: tc.usage}
		var p fastjson.Parser
		var content strings.Builder
		n := 0
		sawUsage := false
		for {
			ev, ok := a.AppendEvent(nil, n)
			if !ok {
				break
			}
			n++
			s := string(ev)
			if !strings.HasPrefix(s, "data: ") || !strings.HasSuffix(s, "\n\n") {
				t.Fatalf("event %q is not one SSE data event", s)
			}
			data := strings.TrimSuffix(strings.TrimPrefix(s, "data: "), "\n\n")
			if data == "[DONE]" {
				continue
			}
			v, err := p.Parse(data)
			if err != nil {
				t.Fatalf("event %d not JSON: %v: %s", n-1, err, data)
			}
			if string(v.GetStringBytes("object")) != "chat.completion.chunk" || string(v.GetStringBytes("model")) != "m" {
				t.Fatalf("chunk %s", data)
			}
			content.Write(v.GetStringBytes("choices", "0", "delta", "content"))
			if u := v.Get("usage"); u != nil {
				sawUsage = true
				if u.GetInt("completion_tokens") != tc.tokens || u.GetInt("total_tokens") != tc.tokens+3 {
					t.Fatalf("usage %s", u)
				}
			}
		}
		if n != a.Events() {
			t.Fatalf("tokens %d usage %v: %d events, Events() says %d", tc.tokens, tc.usage, n, a.Events())
		}
		if content.String() != Text(tc.tokens) || sawUsage != tc.usage {
			t.Fatalf("content %q usage %v", content.String(), sawUsage)
		}
		last, _ := a.AppendEvent(nil, n-1)
		if string(last) != "data: [DONE]\n\n" {
			t.Fatalf("last event %q", last)
		}
	}
}

func TestCompletion(t *testing.T) {
	a := Answer{Model: "m", Tokens: 6, PromptTokens: 2}
	v, err := fastjson.ParseBytes(a.AppendCompletion(nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(v.GetStringBytes("choices", "0", "message", "content")) != Text(6) || v.GetInt("usage", "completion_tokens") != 6 ||
		string(v.GetStringBytes("choices", "0", "finish_reason")) != "stop" {
		t.Fatalf("completion %s", v)
	}
	if v, err := fastjson.ParseBytes(AppendErrorBody(nil, 503)); err != nil || v.Get("error", "message") == nil {
		t.Fatalf("error body %s: %v", v, err)
	}
	if v, err := fastjson.ParseBytes(AppendModels(nil, "o", []string{"a", `q"uote`})); err != nil || len(v.GetArray("data")) != 2 ||
		string(v.GetStringBytes("data", "1", "id")) != `q"uote` {
		t.Fatalf("models %s: %v", v, err)
	}
}

// TestReader checks that the Reader yields exactly the answer's events,
// whatever the read size, and honours truncation.
func TestReader(t *testing.T) {
	a := Answer{Model: "m", Tokens: 50, IncludeUsage: true}
	var want []byte
	for i := 0; ; i++ {
		var ok bool
		if want, ok = a.AppendEvent(want, i); !ok {
			break
		}
	}
	for _, size := range []int{1, 7, 64, 4096} {
		got, err := readAllBy(NewReader(a), size)
		if err != nil || string(got) != string(want) {
			t.Fatalf("read size %d: %v; got %d bytes, want %d", size, err, len(got), len(want))
		}
	}
	tr := a
	tr.TruncateAfter = 3
	got, err := io.ReadAll(NewReader(tr))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if strings.Count(s, "data: ") != 4 || strings.Contains(s, "[DONE]") || strings.Contains(s, `"finish_reason":"stop"`) {
		t.Fatalf("truncated stream %q", s)
	}
}

func readAllBy(r io.Reader, size int) ([]byte, error) {
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestReaderCloseUnblocks checks that closing a delayed Reader ends a Read
// waiting on the delay at once, with the close error.
func TestReaderCloseUnblocks(t *testing.T) {
	r := NewReader(Answer{Model: "m", Tokens: 5, Delay: time.Hour})
	buf := make([]byte, 4096)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(buf)
		done <- err
	}()
	stop := errors.New("client went away")
	_ = r.CloseWithError(stop)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Fatalf("read after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after CloseWithError")
	}
	if _, err := r.Read(buf); !errors.Is(err, stop) {
		t.Fatalf("second read after close: %v", err)
	}
}

func TestOverride(t *testing.T) {
	tests := []struct {
		hdr  map[string]string
		want Behaviour
	}{
		{nil, Behaviour{Tokens: 3}},
		{map[string]string{HeaderTokens: "9", HeaderDelay: "5ms", HeaderStatus: "429", HeaderStall: "1s", HeaderTruncate: "2"},
			Behaviour{Tokens: 9, Delay: 5 * time.Millisecond, Status: 429, Stall: time.Second, TruncateAfter: 2}},
		{map[string]string{HeaderTokens: "-1", HeaderDelay: "soon", HeaderStatus: "99", HeaderStall: "-1s", HeaderTruncate: "x"}, Behaviour{Tokens: 3}},
		{map[string]string{HeaderStatus: "600"}, Behaviour{Tokens: 3}},
		{map[string]string{HeaderTools: "always"}, Behaviour{Tokens: 3, Tools: ToolsAlways}},
		{map[string]string{HeaderTools: "never"}, Behaviour{Tokens: 3, Tools: ToolsNever}},
		{map[string]string{HeaderTools: "sometimes"}, Behaviour{Tokens: 3}},
		{map[string]string{HeaderFinish: "length"}, Behaviour{Tokens: 3, Finish: "length"}},
		{map[string]string{HeaderFinish: "content_filter"}, Behaviour{Tokens: 3, Finish: "content_filter"}},
		{map[string]string{HeaderFinish: `x"y`}, Behaviour{Tokens: 3}},
	}
	for _, tc := range tests {
		b := Behaviour{Tokens: 3}
		b.Override(func(k string) []byte { return []byte(tc.hdr[k]) })
		if b != tc.want {
			t.Errorf("headers %v: %+v, want %+v", tc.hdr, b, tc.want)
		}
	}
}

// TestProvider checks the in-process mock's answers and header overrides.
func TestProvider(t *testing.T) {
	p := NewProvider("local", []string{"local-gpt"}, Behaviour{Tokens: 4})
	body := []byte(`{"model":"local-gpt","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}`)
	toolBody := []byte(`{"model":"local-gpt","messages":[{"role":"user","content":[{"type":"text","text":"weather in Paris?"}]}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`)
	afterBody := []byte(`{"model":"local-gpt","messages":[{"role":"user","content":"weather?"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"sunny"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`)
	tests := []struct {
		name   string
		body   []byte
		stream bool
		hdr    map[string]string
		status int
		want   string
	}{
		{name: "whole", status: 200, want: Text(4)},
		{name: "stream", stream: true, status: 200, want: "data: [DONE]"},
		{name: "tokens-header", hdr: map[string]string{HeaderTokens: "8"}, status: 200, want: Text(8)},
		{name: "status-header", hdr: map[string]string{HeaderStatus: "500"}, status: 500, want: "injected status 500"},
		{name: "tools", body: toolBody, status: 200, want: `"finish_reason":"tool_calls"`},
		{name: "tools/stream", body: toolBody, stream: true, status: 200, want: `"function":{"arguments":"aris\""}`},
		{name: "tools/header", hdr: map[string]string{HeaderTools: "always"}, status: 200, want: `"id":"call_mock_time"`},
		{name: "tools/after-result", body: afterBody, status: 200, want: Text(4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			for k, v := range tc.hdr {
				h.Set(k, v)
			}
			b := body
			if tc.body != nil {
				b = tc.body
			}
			res, err := p.Do(&providers.Call{Model: "upstream-name", Stream: tc.stream, Body: b, Header: &h})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			got := string(res.Body)
			if res.Stream != nil {
				b, err := io.ReadAll(res.Stream)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if res.Status != tc.status || !strings.Contains(got, tc.want) {
				t.Fatalf("status %d body %q; want %d containing %q", res.Status, got, tc.status, tc.want)
			}
			if tc.status == 200 && !strings.Contains(got, `"model":"upstream-name"`) {
				t.Fatalf("answer does not name the routed model: %q", got)
			}
		})
	}
	if _, err := p.Do(&providers.Call{Body: []byte(`{nope`)}); err == nil {
		t.Fatal("malformed body answered")
	}
}

// TestAppendEventAllocs guards the load tester's upstream: with a reused
// buffer, making any stream event (text or tool call) allocates nothing.
func TestAppendEventAllocs(t *testing.T) {
	for _, tools := range []bool{false, true} {
		a := Answer{Model: "mock-gpt", Tokens: 20, IncludeUsage: true, ToolCalls: tools}
		buf := make([]byte, 0, 1024)
		n := a.Events()
		allocs := testing.AllocsPerRun(50, func() {
			for i := 0; i < n; i++ {
				buf, _ = a.AppendEvent(buf[:0], i)
			}
		})
		if allocs != 0 {
			t.Fatalf("tools %v: %.1f allocations per stream", tools, allocs)
		}
	}
}
