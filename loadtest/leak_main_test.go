package loadtest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (workers,
// pacers, tickers, client connections). fasthttp's connection and worker
// cleaners sleep for their idle period and then exit by themselves; they
// cannot be woken, so they are not counted. The default dialer's address
// cache cleaner and the server date updater are process-wide singletons.
func TestMain(m *testing.M) {
	if spec := os.Getenv(cpuChildEnv); spec != "" {
		cpuChildMain(spec)
	}
	// Runs without --json or --html write their reports to a folder under
	// the working directory: keep them out of the source tree.
	dir, err := os.MkdirTemp("", "loadtest-test-")
	if err != nil {
		panic(err)
	}
	if err := os.Chdir(dir); err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m,
		goleak.Cleanup(func(int) { _ = os.RemoveAll(dir) }),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
