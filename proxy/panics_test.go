package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestRecoverAndLogKeepsTheProcess(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer recoverAndLog(zap.New(core), "test goroutine")
		var p *struct{ n int }
		p.n++ // a nil dereference: a runtime panic, as a real bug would be
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("goroutine did not end")
	}
	e := logs.FilterMessage("panic recovered").All()
	if len(e) != 1 {
		t.Fatalf("logged %v", logs.All())
	}
	f := e[0].ContextMap()
	if f["in"] != "test goroutine" || !strings.Contains(f["stack"].(string), "TestRecoverAndLogKeepsTheProcess") {
		t.Errorf("fields %v: want where and a stack naming the panicking function", f)
	}
}

func TestHandlerPanicIsAnsweredAndLoggedWithStack(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	srv, _ := startLoggedProxy(t, baseConfig(mockProvider("m", 1, "mock-gpt")), zap.New(core))
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/v1/messages")
	func() {
		defer func() {
			if v := recover(); v != nil {
				srv.panicked(&ctx, v)
			}
		}()
		panicInHandler()
	}()
	if ctx.Response.StatusCode() != 500 || !strings.Contains(string(ctx.Response.Body()), `"type":"error"`) {
		t.Errorf("answer %d %s, want a 500 in Anthropic's error shape", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	e := logs.FilterMessage("handler panic").All()
	if len(e) != 1 || !strings.Contains(e[0].ContextMap()["stack"].(string), "panicInHandler") {
		t.Fatalf("log %v, want the stack of the panic", logs.All())
	}
}

func panicInHandler() { panic("handler bug") }
