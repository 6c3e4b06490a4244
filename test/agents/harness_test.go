//go:build agents

package agents

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
)

const (
	// clientKey is the key the CLIs present to the proxy.
	clientKey = "agents-client-key-1"
	// upstreamKey is the key the proxy presents to the mock upstream.
	upstreamKey = "agents-upstream-key-1"
	// mockTokens is the length of the mock's plain answer.
	mockTokens = 12
)

// runTimeout bounds one CLI run (AGENTS_RUN_TIMEOUT overrides it).
func runTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("AGENTS_RUN_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 90 * time.Second
}

// binDir is where the CLIs are installed: AGENTS_PREFIX (the install
// script's prefix) or the repository's .cache/agents.
func binDir(t *testing.T) string {
	prefix := os.Getenv("AGENTS_PREFIX")
	if prefix == "" {
		_, file, _, _ := runtime.Caller(0)
		prefix = filepath.Join(filepath.Dir(file), "..", "..", ".cache", "agents")
	}
	dir := filepath.Join(prefix, "node_modules", ".bin")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("agent CLIs not installed under %s (run scripts/install-agents.sh): %v", prefix, err)
	}
	return dir
}

// recorder keeps the bodies that reached the mock upstream.
type recorder struct {
	mu     sync.Mutex
	bodies []string
}

func (r *recorder) add(_ string, body []byte) {
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.mu.Unlock()
}

// saw reports whether any body that reached the upstream contains s.
func (r *recorder) saw(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies {
		if strings.Contains(b, s) {
			return true
		}
	}
	return false
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startMock runs the standalone mock upstream on loopback and returns its
// base URL (no path).
func startMock(t *testing.T, rec *recorder) string {
	t.Helper()
	s := mock.NewServer(mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: mockTokens}, OnRequest: rec.add})
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String()
}

// upstreamTypes are the provider types the CLIs are driven to; all but
// mock are served by the standalone mock upstream at its protocol's path.
var upstreamTypes = []struct{ typ, path string }{
	{config.TypeOpenAI, "/v1"},
	{config.TypeOpenAIResponses, "/v1"},
	{config.TypeClaude, "/v1"},
	{config.TypeGemini, "/v1beta"},
	{config.TypeMock, ""},
}

// startProxy serves one provider of type typ for any model on loopback
// and returns the proxy's base URL.
func startProxy(t *testing.T, typ, baseURL string) string {
	t.Helper()
	p := config.Provider{Name: "up", Type: typ, Models: []string{"*"}}
	if typ == config.TypeMock {
		p.Mock = config.Mock{Tokens: mockTokens}
	} else {
		p.BaseURL = baseURL
		p.APIKeys = []string{upstreamKey}
		p.MaxConns = 16
		p.PoolWait = 5 * time.Second
		p.ConnectTimeout = 5 * time.Second
		p.FirstByteTimeout = 30 * time.Second
		p.IdleTimeout = 30 * time.Second
	}
	cfg := config.Defaults()
	cfg.Server.APIKeys = []string{clientKey}
	cfg.Providers = []config.Provider{p}
	srv, err := proxy.New(&cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String()
}

// result is one finished CLI run.
type result struct {
	stdout, stderr string
	err            error
}

// run runs c once with prompt against base, in work with a fresh HOME,
// and kills its whole process group at the end or at the timeout.
func run(t *testing.T, c client, base, work, prompt string) result {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"PATH=" + binDir(t) + ":" + nodeDir(t) + ":/usr/local/bin:/usr/bin:/bin",
		"TMPDIR=" + os.TempDir(),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NO_COLOR=1",
		"CI=true",
		// No proxy of the machine may take the CLIs' loopback traffic
		// elsewhere.
		"NO_PROXY=*",
		"no_proxy=*",
	}
	env = append(env, c.setup(t, home, base, clientKey)...)
	// A run ends in time for its kill to happen before go test's own
	// -timeout, which would leave the CLI's process group behind.
	deadline := time.Now().Add(runTimeout())
	if d, ok := t.Deadline(); ok && d.Add(-15*time.Second).Before(deadline) {
		deadline = d.Add(-15 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir(t), c.bin), c.args(prompt)...)
	cmd.Dir = work
	cmd.Env = env
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		// Helpers a CLI left behind in its group go too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = errors.Join(err, errors.New("killed at its deadline"))
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// nodeDir is the directory of the node binary the CLIs' launchers need.
func nodeDir(t *testing.T) string {
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	return filepath.Dir(p)
}

// tail is the end of s, for failure messages.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
