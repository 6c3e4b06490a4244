package proxy

import (
	"context"
	"errors"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"go.uber.org/zap"
)

// wsUpstream is a standalone mock upstream serving every protocol, with
// the bodies it received.
type wsUpstream struct {
	base string
	mu   sync.Mutex
	seen []upRequest
}

func startWSUpstream(t *testing.T, o mock.ServerOptions) *wsUpstream {
	u := &wsUpstream{}
	o.OnRequest = func(path string, body []byte) {
		u.mu.Lock()
		u.seen = append(u.seen, upRequest{path: path, body: string(body)})
		u.mu.Unlock()
	}
	u.base = strings.TrimSuffix(mocktest.Start(t, o), "/v1")
	return u
}

func (u *wsUpstream) requests() []upRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upRequest(nil), u.seen...)
}

// wsProvider is a provider of type typ at the mock serving model.
func (u *wsUpstream) provider(name, typ, model string) config.Provider {
	base := u.base + "/v1"
	if typ == config.TypeGemini {
		base = u.base + "/v1beta"
	}
	p := openaiProvider(name, base, model)
	p.Type = typ
	return p
}

// dialWS opens a socket to the proxy at base (http://...) with key.
func dialWS(t *testing.T, base, path, key string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if key != "" {
		hdr.Set("Authorization", "Bearer "+key)
	}
	hdr.Set("OpenAI-Beta", "responses_websockets=2026-02-06")
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+path, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// wsEvent is one event frame, parsed.
type wsEvent struct {
	typ  string
	raw  string
	v    *fastjson.Value
	code int // status of an error event
}

func readWS(t *testing.T, c *websocket.Conn) (wsEvent, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	mt, b, err := c.ReadMessage()
	if err != nil {
		return wsEvent{}, err
	}
	if mt != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", mt)
	}
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		t.Fatalf("frame is not JSON: %v: %q", err, b)
	}
	return wsEvent{typ: string(v.GetStringBytes("type")), raw: string(b), v: v, code: v.GetInt("status")}, nil
}

// wsResponse reads one response's events to its terminal event and
// returns them, the text and the response id.
func wsResponse(t *testing.T, c *websocket.Conn) (evs []wsEvent, text, id string) {
	t.Helper()
	for {
		ev, err := readWS(t, c)
		if err != nil {
			t.Fatalf("reading events (after %d): %v", len(evs), err)
		}
		evs = append(evs, ev)
		switch ev.typ {
		case "response.output_text.delta":
			text += string(ev.v.GetStringBytes("delta"))
		case "response.completed", "response.incomplete", "response.failed", "error":
			return evs, text, string(ev.v.GetStringBytes("response", "id"))
		}
	}
}

func sendWS(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestWebSocketEveryUpstream(t *testing.T) {
	const tokens = 6
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: tokens}})
	cfg := baseConfig(
		up.provider("p-responses", config.TypeOpenAIResponses, "m-responses"),
		up.provider("p-openai", config.TypeOpenAI, "m-openai"),
		up.provider("p-claude", config.TypeClaude, "m-claude"),
		up.provider("p-gemini", config.TypeGemini, "m-gemini"),
	)
	_, base := startProxy(t, cfg)
	for _, tc := range []struct{ model, path string }{
		{"m-responses", "/v1/responses"},
		{"m-openai", "/v1/chat/completions"},
		{"m-claude", "/v1/messages"},
		{"m-gemini", "/v1beta/models/m-gemini:streamGenerateContent"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			sendWS(t, c, `{"type":"response.create","model":"`+tc.model+`","input":"hello `+tc.model+`","store":false}`)
			evs, text, id := wsResponse(t, c)
			if evs[0].typ != "response.created" {
				t.Errorf("first event %q, want response.created", evs[0].typ)
			}
			last := evs[len(evs)-1]
			if last.typ != "response.completed" || id == "" {
				t.Fatalf("terminal event %s", last.raw)
			}
			if text != mock.Text(tokens) {
				t.Errorf("text %q, want %q", text, mock.Text(tokens))
			}
			var got *upRequest
			for _, r := range up.requests() {
				if strings.Contains(r.body, "hello "+tc.model) {
					got = &r
				}
			}
			if got == nil || !strings.HasPrefix(got.path, tc.path) {
				t.Fatalf("upstream request %+v, want one to %s", got, tc.path)
			}
			if strings.Contains(got.body, "response.create") {
				t.Errorf("the socket's event type reached the upstream: %s", got.body)
			}
			if tc.model == "m-responses" && !strings.Contains(got.body, `"stream":true`) {
				t.Errorf("pass-through body does not stream: %s", got.body)
			}
		})
	}
}

// TestWebSocketPreviousResponse continues a response with only new input:
// a stateless upstream gets the whole conversation, a Responses upstream
// that stored the response gets the id.
func TestWebSocketPreviousResponse(t *testing.T) {
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 3}})
	_, base := startProxy(t, baseConfig(
		up.provider("p-responses", config.TypeOpenAIResponses, "m-responses"),
		up.provider("p-claude", config.TypeClaude, "m-claude"),
	))
	for _, tc := range []struct {
		name, model, store string
		passID             bool
	}{
		{"converted", "m-claude", "", false},
		{"responses-stored", "m-responses", "", true},
		{"responses-unstored", "m-responses", `,"store":false`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
			if err != nil {
				t.Fatal(err)
			}
			first := "first-" + tc.name
			sendWS(t, c, `{"type":"response.create","model":"`+tc.model+`","input":[{"role":"user","content":"`+first+`"}]`+tc.store+`}`)
			_, text1, id1 := wsResponse(t, c)
			sendWS(t, c, `{"type":"response.create","model":"`+tc.model+`","previous_response_id":"`+id1+`","input":[{"role":"user","content":"second-`+tc.name+`"}]`+tc.store+`}`)
			evs, _, id2 := wsResponse(t, c)
			if last := evs[len(evs)-1]; last.typ != "response.completed" || id2 == "" {
				t.Fatalf("second turn ended with %s", last.raw)
			}
			var body string
			for _, r := range up.requests() {
				if strings.Contains(r.body, "second-"+tc.name) {
					body = r.body
				}
			}
			hasID := strings.Contains(body, id1)
			if hasID != tc.passID {
				t.Errorf("previous_response_id forwarded = %v, want %v: %s", hasID, tc.passID, body)
			}
			if !tc.passID {
				// The whole conversation, in order: first input, first answer, new input.
				i1, i2, i3 := strings.Index(body, first), strings.Index(body, text1), strings.Index(body, "second-"+tc.name)
				if i1 < 0 || i2 < i1 || i3 < i2 {
					t.Errorf("expanded body lacks the conversation in order (%d %d %d): %s", i1, i2, i3, body)
				}
			}
			// An id from elsewhere cannot be expanded for a stateless upstream.
			if tc.model == "m-claude" {
				sendWS(t, c, `{"type":"response.create","model":"m-claude","previous_response_id":"resp_other","input":"x"}`)
				evs, _, _ := wsResponse(t, c)
				if ev := evs[len(evs)-1]; ev.typ != "error" || ev.code != 404 {
					t.Errorf("unknown previous_response_id: %s", ev.raw)
				}
			}
		})
	}
}

// TestWebSocketPreviousFromElsewhere: an id this socket did not make goes
// to a Responses upstream as it is (it may have stored it); a stateless
// continuation of that response cannot be expanded and says so.
func TestWebSocketPreviousFromElsewhere(t *testing.T) {
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 2}})
	_, base := startProxy(t, baseConfig(up.provider("p-responses", config.TypeOpenAIResponses, "m")))
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","previous_response_id":"resp_elsewhere","input":"next"}`)
	evs, _, id := wsResponse(t, c)
	if evs[len(evs)-1].typ != "response.completed" {
		t.Fatalf("got %s", evs[len(evs)-1].raw)
	}
	if reqs := up.requests(); len(reqs) != 1 || !strings.Contains(reqs[0].body, `"previous_response_id":"resp_elsewhere"`) {
		t.Fatalf("upstream got %+v, want the id passed through", reqs)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","store":false,"previous_response_id":"`+id+`","input":"more"}`)
	ev, err := readWS(t, c)
	if err != nil || ev.typ != "error" || ev.code != 400 || !strings.Contains(ev.raw, "not held in full") {
		t.Fatalf("stateless continuation of a partial conversation: %+v %v", ev, err)
	}
}

// TestWebSocketWarmUp answers Codex's generate:false locally, and the next
// turn continues it.
func TestWebSocketWarmUp(t *testing.T) {
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 2}})
	_, base := startProxy(t, baseConfig(up.provider("p-openai", config.TypeOpenAI, "m-openai")))
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m-openai","generate":false,"instructions":"be brief","input":[{"role":"user","content":"warm-input"}]}`)
	evs, _, id := wsResponse(t, c)
	if len(evs) != 2 || evs[0].typ != "response.created" || evs[1].typ != "response.completed" || id == "" {
		t.Fatalf("warm-up events: %v", evs)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("warm-up reached the upstream (%d requests)", n)
	}
	sendWS(t, c, `{"type":"response.processed","response_id":"`+id+`"}`)
	sendWS(t, c, `{"type":"response.create","model":"m-openai","previous_response_id":"`+id+`","input":[{"role":"user","content":"real-input"}]}`)
	evs, _, _ = wsResponse(t, c)
	if evs[len(evs)-1].typ != "response.completed" {
		t.Fatalf("turn after warm-up: %s", evs[len(evs)-1].raw)
	}
	reqs := up.requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].body, "warm-input") || !strings.Contains(reqs[0].body, "real-input") {
		t.Fatalf("upstream got %+v, want one request with both inputs", reqs)
	}
}

func TestWebSocketAuth(t *testing.T) {
	_, base := startProxy(t, baseConfig(mockProvider("p", 2, "m")))
	for _, key := range []string{"", "wrong-key"} {
		c, resp, err := dialWS(t, base, "/v1/responses", key, nil)
		if err == nil {
			_ = c.Close()
			t.Fatalf("key %q: upgraded", key)
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("key %q: %v, response %+v; want a 401 answer", key, err, resp)
		}
	}
	// A web page from an origin CORS does not allow gets no socket either.
	_, resp, err := dialWS(t, base, "/v1/responses", testKey, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %+v, want 403", err, resp)
	}
}

// TestWebSocketErrors: a refused request is an error event with its status,
// and the socket goes on.
func TestWebSocketErrors(t *testing.T) {
	_, base := startProxy(t, baseConfig(mockProvider("p", 2, "m")))
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		msg    string
		status int
	}{
		{`{"type":"response.create","model":"no-such-model","input":"x"}`, 404},
		{`not json`, 400},
		{`{"type":"response.cancel"}`, 400},
		{`{"type":"response.create","type":"response.create","model":"m","input":"x"}`, 400},
		{`{"type":"response.create","model":"m","input":42}`, 400},
	} {
		sendWS(t, c, tc.msg)
		ev, err := readWS(t, c)
		if err != nil {
			t.Fatalf("%s: %v", tc.msg, err)
		}
		if ev.typ != "error" || ev.code != tc.status || len(ev.v.GetStringBytes("error", "message")) == 0 {
			t.Errorf("%s: got %s, want an error event with status %d", tc.msg, ev.raw, tc.status)
		}
	}
	sendWS(t, c, `{"type":"response.create","model":"m","input":"x"}`)
	if evs, text, _ := wsResponse(t, c); evs[len(evs)-1].typ != "response.completed" || text != mock.Text(2) {
		t.Fatalf("socket unusable after errors: %v", evs)
	}
}

func TestWebSocketOversizeMessage(t *testing.T) {
	cfg := baseConfig(mockProvider("p", 2, "m"))
	cfg.Server.MaxBodyBytes = 32 << 10
	_, base := startProxy(t, cfg)
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := `{"type":"response.create","model":"m","input":"` + strings.Repeat("a", 40<<10) + `"}`
	sendWS(t, c, big)
	ev, err := readWS(t, c)
	if err != nil || ev.typ != "error" || ev.code != 413 {
		t.Fatalf("oversize message: %+v %v, want an error event with status 413", ev, err)
	}
	_, err = readWS(t, c)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("after the error: %v, want close 1009", err)
	}
}

// TestWebSocketBusy: a second response.create while one runs is refused
// with an error event; the first completes.
func TestWebSocketBusy(t *testing.T) {
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 5, Delay: 20 * time.Millisecond}})
	_, base := startProxy(t, baseConfig(up.provider("p", config.TypeOpenAI, "m")))
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","input":"one"}`)
	if ev, err := readWS(t, c); err != nil || ev.typ != "response.created" {
		t.Fatalf("first event: %+v %v", ev, err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","input":"two"}`)
	sawBusy := false
	for {
		ev, err := readWS(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if ev.typ == "error" && strings.Contains(ev.raw, "already in progress") {
			sawBusy = true
			continue
		}
		if ev.typ == "response.completed" {
			break
		}
	}
	if !sawBusy {
		t.Error("no error event for the second response.create")
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream got %d requests, want 1", n)
	}
}

// TestWebSocketClientGone closes the socket while the upstream, after a
// first chunk, is silent: the proxy must abandon the upstream request at
// once (no write would tell it the client left; heartbeats are off), and
// the leak check of TestMain finds nothing left.
func TestWebSocketClientGone(t *testing.T) {
	cancelled := make(chan struct{})
	base0 := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	}))
	cfg := baseConfig(openaiProvider("p", base0, "m"))
	cfg.Server.StreamHeartbeat = time.Minute
	srv, base := startProxy(t, cfg)
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","input":"long"}`)
	for {
		ev, err := readWS(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if ev.typ == "response.output_text.delta" {
			break
		}
	}
	_ = c.NetConn().Close()
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream request still runs 2 s after the client left")
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.socketCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the socket is still open 2 s after its client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebSocketShutdown: an idle socket is closed with 1001 on shutdown.
func TestWebSocketShutdown(t *testing.T) {
	srv, base := startProxy(t, baseConfig(mockProvider("p", 2, "m")))
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","input":"x"}`)
	wsResponse(t, c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.closeSocketsNow()
	}()
	_, err = readWS(t, c)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("on shutdown: %v, want close 1001", err)
	}
	<-done
}

func (s *Server) socketCount() int {
	s.sockets.mu.Lock()
	defer s.sockets.mu.Unlock()
	return len(s.sockets.all)
}

func (s *Server) closeSocketsNow() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.closeSockets(ctx)
	return ctx.Err()
}

// TestWebSocketIdleTimeout: a socket that runs no response for the idle
// timeout is closed cleanly.
func TestWebSocketIdleTimeout(t *testing.T) {
	cfg := baseConfig(mockProvider("p", 2, "m"))
	cfg.Server.IdleTimeout = 300 * time.Millisecond
	_, base := startProxy(t, cfg)
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	sendWS(t, c, `{"type":"response.create","model":"m","input":"x"}`)
	wsResponse(t, c)
	start := time.Now()
	_, err = readWS(t, c)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure || time.Since(start) > 5*time.Second {
		t.Fatalf("idle socket: %v after %v, want close 1000", err, time.Since(start))
	}
}

// BenchmarkWebSocketTurn measures one response over one socket, kept
// open across iterations: response.create in, 22 event frames out, from a
// static Responses upstream (pass-through) and converted from a static
// Chat one. Client, proxy and upstream share the machine.
func BenchmarkWebSocketTurn(b *testing.B) {
	var resp strings.Builder
	ev := func(typ, data string) {
		resp.WriteString("event: " + typ + "\ndata: " + data + "\n\n")
	}
	ev("response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"bench","output":[]}}`)
	for i := 0; i < 20; i++ {
		ev("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" token"}`)
	}
	ev("response.completed", `{"type":"response.completed","sequence_number":22,"response":{"id":"resp_1","object":"response","status":"completed","model":"bench","output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"token"}]}],"usage":{"input_tokens":5,"output_tokens":20,"total_tokens":25}}}`)
	chat := ""
	for i := 0; i < 20; i++ {
		chat += benchEvent
	}
	chat += "data: [DONE]\n\n"
	for _, tc := range []struct{ name, typ, body string }{
		{"responses-pass-through", config.TypeOpenAIResponses, resp.String()},
		{"chat-converted", config.TypeOpenAI, chat},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := openaiProvider("bench", staticUpstream(b, "text/event-stream", tc.body), "bench")
			p.Type = tc.typ
			cfg := baseConfig(p)
			srv, err := New(cfg, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			})
			d := websocket.Dialer{}
			c, _, err := d.Dial("ws://"+ln.Addr().String()+"/v1/responses", http.Header{"Authorization": {"Bearer " + testKey}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := []byte(`{"type":"response.create","model":"bench","store":false,"input":[{"role":"user","content":"Hello"}]}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
					b.Fatal(err)
				}
				for {
					_, data, err := c.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					if strings.Contains(string(data[:min(len(data), 40)]), "response.completed") {
						break
					}
					if strings.HasPrefix(string(data), `{"type":"error"`) {
						b.Fatalf("error event: %s", data)
					}
				}
			}
		})
	}
}

// TestWebSocketMaxSockets: open sockets count against server.max_conns
// (fasthttp stops counting a hijacked connection).
func TestWebSocketMaxSockets(t *testing.T) {
	cfg := baseConfig(mockProvider("p", 2, "m"))
	cfg.Server.MaxConns = 1
	srv, base := startProxy(t, cfg)
	if _, _, err := dialWS(t, base, "/v1/responses", testKey, nil); err != nil {
		t.Fatal(err)
	}
	for srv.socketCount() == 0 {
		time.Sleep(time.Millisecond) // registered once the 101 is written
	}
	_, resp, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second socket: %v %+v, want 503", err, resp)
	}
}

// TestWebSocketUpstreamBreaks: a stream that ends without its terminator,
// pass-through or converted, ends with an error event (a 5xx status, which
// Codex retries), and
// an upstream error answer becomes an error event with its status.
func TestWebSocketUpstreamBreaks(t *testing.T) {
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 8, TruncateAfter: 2}})
	bad := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 2, Status: 429}})
	_, base := startProxy(t, baseConfig(
		up.provider("p-responses", config.TypeOpenAIResponses, "m-responses"),
		up.provider("p-claude", config.TypeClaude, "m-claude"),
		bad.provider("p-limited", config.TypeOpenAI, "m-limited"),
	))
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model  string
		status int
	}{{"m-responses", 500}, {"m-claude", 500}, {"m-limited", 429}} {
		sendWS(t, c, `{"type":"response.create","model":"`+tc.model+`","input":"x"}`)
		evs, _, _ := wsResponse(t, c)
		ev := evs[len(evs)-1]
		got := ev.code
		if tc.status == 500 && got > 500 && got < 600 {
			got = 500
		}
		if ev.typ != "error" || got != tc.status || len(ev.v.GetStringBytes("error", "message")) == 0 {
			t.Errorf("%s: last event %s, want an error event with status %d", tc.model, ev.raw, tc.status)
		}
	}
}

// TestWebSocketBodyBudget: a large message needs room in the budget large
// HTTP bodies share; without it the message is refused, the socket stays.
func TestWebSocketBodyBudget(t *testing.T) {
	cfg := baseConfig(mockProvider("p", 2, "m"))
	cfg.Server.MaxBodyBytes = 128 << 10
	cfg.Server.Limits.MaxInflightBodyBytes = 128 << 10
	srv, base := startProxy(t, cfg)
	c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var other fasthttp.RequestHeader // a large HTTP body being read
	if !srv.bodies.reserve(&other, 100<<10) {
		t.Fatal("cannot take the budget")
	}
	big := `{"type":"response.create","model":"m","input":"` + strings.Repeat("a", 80<<10) + `"}`
	sendWS(t, c, big)
	if ev, err := readWS(t, c); err != nil || ev.typ != "error" || ev.code != 503 {
		t.Fatalf("message over the budget: %+v %v, want an error event with status 503", ev, err)
	}
	srv.bodies.release(&other)
	sendWS(t, c, big)
	if evs, _, _ := wsResponse(t, c); evs[len(evs)-1].typ != "response.completed" {
		t.Fatalf("with room in the budget: %s", evs[len(evs)-1].raw)
	}
}

// BenchmarkWebSocketIdleSockets reports memory per open idle socket after
// one response each (heap in use and goroutine stacks after a GC). The
// clients live in the same process, so the figure includes their end of
// each socket too: an upper bound for the proxy's share.
func BenchmarkWebSocketIdleSockets(b *testing.B) {
	const n = 200
	cfg := baseConfig(config.Provider{Name: "mock", Type: config.TypeMock, Models: []string{"m"}, Mock: config.Mock{Tokens: 3}})
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	hdr := http.Header{"Authorization": {"Bearer " + testKey}}
	msg := []byte(`{"type":"response.create","model":"m","input":"hi"}`)
	for i := 0; i < b.N; i++ {
		mem := func() uint64 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapInuse + ms.StackInuse
		}
		conns := make([]*websocket.Conn, 0, n)
		before := mem()
		for j := 0; j < n; j++ {
			c, _, err := (&websocket.Dialer{}).Dial("ws://"+ln.Addr().String()+"/v1/responses", hdr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				b.Fatal(err)
			}
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					b.Fatal(err)
				}
				if strings.Contains(string(data), `"response.completed"`) {
					break
				}
			}
		}
		for srv.socketCount() < n {
			time.Sleep(time.Millisecond)
		}
		after := mem()
		b.ReportMetric(float64(after-before)/n, "B/socket(incl.client)")
		for _, c := range conns {
			_ = c.Close()
		}
		for srv.socketCount() > 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestWebSocketToolLoop runs Codex's loop over a socket to each stateless
// upstream type: the model calls tools, the next response.create carries
// only the tool outputs and previous_response_id, and the upstream gets
// the calls and their results in its own protocol.
func TestWebSocketToolLoop(t *testing.T) {
	up := startWSUpstream(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 3}})
	_, base := startProxy(t, baseConfig(
		up.provider("p-openai", config.TypeOpenAI, "m-openai"),
		up.provider("p-claude", config.TypeClaude, "m-claude"),
		up.provider("p-gemini", config.TypeGemini, "m-gemini"),
	))
	tools := `"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},` +
		`{"type":"function","name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}]`
	for _, model := range []string{"m-openai", "m-claude", "m-gemini"} {
		t.Run(model, func(t *testing.T) {
			c, _, err := dialWS(t, base, "/v1/responses", testKey, nil)
			if err != nil {
				t.Fatal(err)
			}
			sendWS(t, c, `{"type":"response.create","model":"`+model+`","store":false,`+tools+`,"input":"what is the weather in Paris?"}`)
			evs, _, id := wsResponse(t, c)
			var calls []string
			for _, ev := range evs {
				if ev.typ == "response.output_item.done" && string(ev.v.GetStringBytes("item", "type")) == "function_call" {
					calls = append(calls, string(ev.v.GetStringBytes("item", "call_id")))
				}
			}
			if len(calls) != 2 || evs[len(evs)-1].typ != "response.completed" {
				t.Fatalf("first turn: calls %v, last %s", calls, evs[len(evs)-1].raw)
			}
			outputs := ""
			for i, id := range calls {
				if i > 0 {
					outputs += ","
				}
				outputs += `{"type":"function_call_output","call_id":"` + id + `","output":"result-of-` + id + `"}`
			}
			sendWS(t, c, `{"type":"response.create","model":"`+model+`","store":false,`+tools+`,"previous_response_id":"`+id+`","input":[`+outputs+`]}`)
			evs, text, _ := wsResponse(t, c)
			if evs[len(evs)-1].typ != "response.completed" || text == "" {
				t.Fatalf("second turn: %q, last %s", text, evs[len(evs)-1].raw)
			}
			reqs := up.requests()
			last := reqs[len(reqs)-1].body
			for _, want := range append([]string{"what is the weather in Paris?", "get_weather", "result-of-" + calls[0], "result-of-" + calls[1]}, calls...) {
				if !strings.Contains(last, want) {
					t.Errorf("second upstream request lacks %q: %s", want, last)
				}
			}
		})
	}
}
