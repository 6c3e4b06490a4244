package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"github.com/llmproxy/proxy/proxy/config"
)

// dialResponses opens the Responses WebSocket with the test key.
func dialResponses(t *testing.T, base, key string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/responses", h)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, res, err
}

// readUntilDone reads events up to the response's terminal event (or an
// error event) and returns them.
func readUntilDone(t *testing.T, c *websocket.Conn) []map[string]any {
	t.Helper()
	var evs []map[string]any
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d events: %v", len(evs), err)
		}
		var e map[string]any
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("event is not JSON: %s", data)
		}
		evs = append(evs, e)
		switch e["type"] {
		case "response.completed", "response.incomplete", "response.failed", "error":
			return evs
		}
	}
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func outputText(evs []map[string]any) string {
	var b strings.Builder
	for _, e := range evs {
		if e["type"] == "response.output_text.delta" {
			b.WriteString(e["delta"].(string))
		}
	}
	return b.String()
}

// TestResponsesWebSocket: Codex's transport on every kind of upstream: a
// Responses upstream (the request passed through), a Chat upstream and the
// in-process mock (converted); a second turn with previous_response_id
// carries the whole conversation to the upstream, which never sees the id.
func TestResponsesWebSocket(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	var bodies []string
	rec := func(path string, body []byte) {
		mu.Lock()
		bodies = append(bodies, path+" "+string(body))
		mu.Unlock()
	}
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 4}, OnRequest: rec})
	resp := openaiProvider("resp", strings.TrimSuffix(up, "/v1"), "up-resp")
	resp.Type = config.TypeOpenAIResponses
	chat := openaiProvider("chat", strings.TrimSuffix(up, "/v1"), "up-chat")
	_, base := startProxy(t, baseConfig(resp, chat, mockProvider("local", 3, "local-gpt")))

	for _, model := range []string{"up-resp", "up-chat", "local-gpt"} {
		t.Run(model, func(t *testing.T) {
			c, _, err := dialResponses(t, base, testKey)
			if err != nil {
				t.Fatal(err)
			}
			send(t, c, `{"type":"response.create","model":"`+model+`","input":"hi","store":false}`)
			first := readUntilDone(t, c)
			last := first[len(first)-1]
			if last["type"] != "response.completed" || outputText(first) == "" || first[0]["type"] != "response.created" {
				t.Fatalf("first turn: %v", first)
			}
			id := last["response"].(map[string]any)["id"].(string)
			mu.Lock()
			bodies = nil
			mu.Unlock()
			send(t, c, `{"type":"response.create","model":"`+model+`","previous_response_id":"`+id+`","input":[{"role":"user","content":"again"}]}`)
			second := readUntilDone(t, c)
			if second[len(second)-1]["type"] != "response.completed" {
				t.Fatalf("second turn: %v", second)
			}
			if model == "local-gpt" {
				return // in-process: nothing to inspect upstream
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != 1 {
				t.Fatalf("upstream got %d requests", len(bodies))
			}
			b := bodies[0]
			if !strings.Contains(b, `"hi"`) || !strings.Contains(b, `"again"`) || !strings.Contains(b, outputText(first)) {
				t.Errorf("second upstream request lacks the conversation: %s", b)
			}
			if strings.Contains(b, "previous_response_id") {
				t.Errorf("the socket's response id reached the upstream: %s", b)
			}
		})
	}
}

func TestResponsesWebSocketRefusals(t *testing.T) {
	checkLeaks(t)
	cfg := baseConfig(mockProvider("local", 3, "local-gpt"))
	cfg.Server.MaxBodyBytes = 4096
	cfg.Server.Limits.MaxInflightBodyBytes = 1 << 20
	_, base := startProxy(t, cfg)

	t.Run("no key", func(t *testing.T) {
		_, res, err := dialResponses(t, base, "")
		if err == nil || res == nil || res.StatusCode != 401 {
			t.Fatalf("dial without a key: %v %v", err, res)
		}
	})
	t.Run("bad messages", func(t *testing.T) {
		c, _, err := dialResponses(t, base, testKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ msg, want string }{
			{`not json`, "JSON object"},
			{`{"type":"response.cancel"}`, "unknown message type"},
			{`{"type":"response.create","input":"hi"}`, "model"},
			{`{"type":"response.create","model":"nobody-serves-this","input":"hi"}`, "nobody-serves-this"},
		} {
			send(t, c, tc.msg)
			evs := readUntilDone(t, c)
			e := evs[len(evs)-1]
			raw, _ := json.Marshal(e)
			if e["type"] != "error" || !strings.Contains(string(raw), tc.want) {
				t.Errorf("%s: got %s, want an error event naming %q", tc.msg, raw, tc.want)
			}
		}
		// The socket still serves after refusals.
		send(t, c, `{"type":"response.create","model":"local-gpt","input":"hi"}`)
		if evs := readUntilDone(t, c); evs[len(evs)-1]["type"] != "response.completed" {
			t.Fatalf("after refusals: %v", evs)
		}
	})
	t.Run("oversize", func(t *testing.T) {
		c, _, err := dialResponses(t, base, testKey)
		if err != nil {
			t.Fatal(err)
		}
		send(t, c, `{"type":"response.create","model":"local-gpt","input":"`+strings.Repeat("x", 8000)+`"}`)
		evs := readUntilDone(t, c)
		if e := evs[len(evs)-1]; e["type"] != "error" || e["status"] != 413.0 {
			t.Fatalf("oversize message: %v", evs)
		}
		_, _, err = c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("after an oversize message: %v, want close 1009", err)
		}
	})
}

// TestResponsesWebSocketClientLeaves: a client that drops the socket in
// the middle of a response gets its upstream closed and leaves nothing
// running behind.
func TestResponsesWebSocketClientLeaves(t *testing.T) {
	checkLeaks(t)
	closed := make(chan struct{}, 1)
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 200, Delay: 20 * time.Millisecond}})
	chat := openaiProvider("chat", strings.TrimSuffix(up, "/v1"), "slow")
	srv, base := startProxy(t, baseConfig(chat))
	c, _, err := dialResponses(t, base, testKey)
	if err != nil {
		t.Fatal(err)
	}
	send(t, c, `{"type":"response.create","model":"slow","input":"hi"}`)
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "output_text.delta") {
			break
		}
	}
	_ = c.Close()
	go func() {
		for srv.current().active.Load() > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		closed <- struct{}{}
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the response kept running after its client left")
	}
}

// TestResponsesWebSocketOneAtATime: a second response.create while one
// streams is refused with an error event; the first one completes.
func TestResponsesWebSocketOneAtATime(t *testing.T) {
	checkLeaks(t)
	slow := mockProvider("slow", 30, "slow-gpt")
	slow.Mock.Delay = 10 * time.Millisecond
	_, base := startProxy(t, baseConfig(slow))
	c, _, err := dialResponses(t, base, testKey)
	if err != nil {
		t.Fatal(err)
	}
	send(t, c, `{"type":"response.create","model":"slow-gpt","input":"hi"}`)
	send(t, c, `{"type":"response.create","model":"slow-gpt","input":"too soon"}`)
	refused, completed := false, false
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !completed {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		refused = refused || strings.Contains(string(data), "already in progress")
		completed = strings.Contains(string(data), `"type":"response.completed"`)
	}
	if !refused {
		t.Error("the second response.create was not refused")
	}
}
