package proxy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: every
// stream, relay and upstream request a test starts must have ended. The
// ignored functions are fasthttp's process-wide background loops (the Date
// header refresher, the DNS cache cleaner), and two cleaners that sleep out
// their period before noticing a stop: the server worker pool's (10 s) and the
// HostClient idle-connection cleaner (MaxIdleConnDuration). The Gemini SDK
// links in OpenCensus, whose package init starts a stats worker for good.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}
