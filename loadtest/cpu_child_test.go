package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// cpuChildEnv makes the test binary a server that spends a known CPU time
// on every request (see TestMain): the value is the time, e.g. "5ms".
const cpuChildEnv = "LOADTEST_TEST_CPU_CHILD"

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// burn spins until the process has used d more CPU time: on a loaded
// machine it takes longer in wall time but the same in CPU time. Counting
// the whole process (with one request at a time) folds the runtime's own
// threads into the burn, so the known cost per request is d plus only what
// the server does outside it.
func burn(d time.Duration) {
	start := processCPU()
	x := 0
	for processCPU()-start < d {
		for i := 0; i < 1000; i++ {
			x += i
		}
	}
	_ = x
}

// cpuChildMain serves chat completions, burning the given CPU time on each,
// and prints its address on stdout. It never returns.
func cpuChildMain(spec string) {
	d, err := time.ParseDuration(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(ln.Addr().String())
	// The parent kills this process when its test ends; a lost parent is
	// outlived by at most this long.
	time.AfterFunc(time.Minute, func() { os.Exit(0) })
	_ = fasthttp.Serve(ln, func(ctx *fasthttp.RequestCtx) {
		burn(d)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}],"usage":{"completion_tokens":1}}`)
	})
	os.Exit(0)
}

// startCPUChild runs the test binary as a server that burns perRequest of
// CPU on each request; it returns the server's base URL and PID.
func startCPUChild(t *testing.T, perRequest time.Duration) (string, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), cpuChildEnv+"="+perRequest.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child address: %v", err)
	}
	return "http://" + strings.TrimSpace(line), cmd.Process.Pid
}

// TestCPUPerRequest loads a separate process that spends 5 ms of CPU on
// every request: the CPU time per request read from its /proc must be 5 ms
// plus the server's small own cost per request, whatever the machine's load.
// On the old code the figure did not exist.
func TestCPUPerRequest(t *testing.T) {
	const perRequest = 5 * time.Millisecond
	url, pid := startCPUChild(t, perRequest)
	cfg, err := parseConfig([]string{"--target", url, "--pid", fmt.Sprint(pid), "-c", "1", "--requests", "100",
		"-d", "2s", "--ramp", "0", "--stream", "0", "--interval", "100ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := execute(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Resources.Operator
	t.Logf("sent %d, target CPU %.3f s, %.0f us per request", rep.Endpoints[0].Counters.Sent, o.CPUSeconds, o.CPUPerRequestUs)
	if rep.Endpoints[0].Counters.OK != 100 {
		t.Fatalf("ok %d of 100: %v", rep.Endpoints[0].Counters.OK, rep.Endpoints[0].Counters.Errors)
	}
	// /proc counts CPU in 10 ms ticks: over 0.5 s that is ±2%. The server's
	// own cost per request (parse, write, scheduler) is well under 1 ms.
	if o.CPUPerRequestUs < 4900 || o.CPUPerRequestUs > 6000 {
		t.Errorf("CPU per request %.0f us, want about 5000 (+ the server's own cost)", o.CPUPerRequestUs)
	}
}
