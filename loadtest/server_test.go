package loadtest

import (
	"bufio"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// mockServer is a small OpenAI Chat Completions server for the tests.
type mockServer struct {
	opts     mockOpts
	wrap     func(fasthttp.RequestHandler) fasthttp.RequestHandler // e.g. a MockProfile's Wrap
	status   int                                                   // answer with this status instead of 200 when non-zero
	truncate bool                                                  // end streams without data: [DONE]
	noUsage  bool                                                  // never send a usage block
	before   func(n int64)                                         // called with the request number before answering
	count    atomic.Int64
	quit     chan struct{} // closed when the test ends
	srv      *fasthttp.Server
	ln       net.Listener
}

// mockOpts shape the test server's answers; the X-Mock-Tokens, X-Mock-Stall
// and X-Mock-Delay headers override them per request, as in the real mock.
type mockOpts struct {
	Tokens     int
	ChunkDelay time.Duration // between streamed chunks
	Latency    time.Duration // before the answer starts
	// PlainLatency, when set, replaces Latency for non-streamed answers.
	PlainLatency time.Duration
}

// startMock serves m on an ephemeral loopback port and returns its base URL.
func startMock(t testing.TB, m *mockServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	m.ln = ln
	h := m.handle
	if m.wrap != nil {
		h = m.wrap(h)
	}
	m.quit = make(chan struct{})
	m.srv = &fasthttp.Server{Handler: h, CloseOnShutdown: true}
	go func() { _ = m.srv.Serve(ln) }()
	t.Cleanup(func() {
		close(m.quit)
		_ = m.srv.Shutdown()
	})
	return "http://" + ln.Addr().String()
}

func (m *mockServer) handle(ctx *fasthttp.RequestCtx) {
	n := m.count.Add(1)
	if string(ctx.Path()) != "/v1/chat/completions" || !ctx.IsPost() {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	if m.before != nil {
		m.before(n)
	}
	if m.status != 0 {
		ctx.SetStatusCode(m.status)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":{"message":"mock failure","type":"server_error"}}`)
		return
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil {
		ctx.Error(`{"error":{"message":"bad json"}}`, fasthttp.StatusBadRequest)
		return
	}
	o := m.opts
	if n, err := strconv.Atoi(string(ctx.Request.Header.Peek(mock.HeaderTokens))); err == nil {
		o.Tokens = n
	}
	if d, err := time.ParseDuration(string(ctx.Request.Header.Peek(mock.HeaderStall))); err == nil {
		o.Latency = d
	}
	if d, err := time.ParseDuration(string(ctx.Request.Header.Peek(mock.HeaderDelay))); err == nil {
		o.ChunkDelay = d
	}
	tokens := o.Tokens
	if tokens <= 0 {
		tokens = 5
	}
	if o.PlainLatency > 0 && !v.GetBool("stream") {
		o.Latency = o.PlainLatency
	}
	if o.Latency > 0 {
		time.Sleep(o.Latency)
	}
	if !v.GetBool("stream") {
		ctx.SetContentType("application/json")
		body := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`
		for i := 0; i < tokens; i++ {
			body += "tok "
		}
		body += `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":` + strconv.Itoa(tokens) + `,"total_tokens":` + strconv.Itoa(tokens+3) + `}}`
		ctx.SetBodyString(body)
		return
	}
	usage := v.GetBool("stream_options", "include_usage") && !m.noUsage
	delay, truncate := o.ChunkDelay, m.truncate
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		w.WriteString("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n")
		_ = w.Flush()
		for i := 0; i < tokens; i++ {
			if delay > 0 {
				// Shutdown does not wait for stream writers: end with the
				// server so a slow stream outlives no test.
				select {
				case <-time.After(delay):
				case <-m.quit:
					return
				}
			}
			w.WriteString("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok \"},\"finish_reason\":null}]}\n\n")
			if err := w.Flush(); err != nil {
				return
			}
		}
		if truncate {
			return
		}
		w.WriteString("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		if usage {
			w.WriteString("data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":" + strconv.Itoa(tokens) + ",\"total_tokens\":" + strconv.Itoa(tokens+3) + "}}\n\n")
		}
		w.WriteString("data: [DONE]\n\n")
		_ = w.Flush()
	})
}
