package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildProxy compiles the proxy binary once for the tests that run it as a
// real process (signals, systemd notifications).
func buildProxy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "proxy")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// notifications reads sd_notify datagrams from a socket like systemd's.
func notifications(t *testing.T, path string) <-chan string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram", Name: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return ch
}

func expectState(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(s, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q notification", want)
		}
	}
}

func modelsOf(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer sig-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/models: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

// TestServiceLifecycleWithRealSignals runs the built binary as systemd
// would: READY=1 once it listens, RELOADING=1 and READY=1 around a SIGHUP
// that picks up an edited config file, STOPPING=1 and a clean exit on
// SIGTERM.
func TestServiceLifecycleWithRealSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildProxy(t)
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	write := func(models string) {
		cfg := "server: {host: 127.0.0.1, port: " + port + ", api_keys: [sig-key], shutdown_grace: 5s}\n" +
			"log: {level: warn}\n" +
			"providers:\n  - {name: mock, type: mock, models: [" + models + "]}\n"
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first-model")
	svc := startService(t, bin, dir, cfgPath)
	cmd, notify := svc.cmd, svc.notify

	expectState(t, notify, "READY=1")
	base := "http://127.0.0.1:" + port
	if m := modelsOf(t, base); !strings.Contains(m, `"first-model"`) {
		t.Fatalf("models before reload: %s", m)
	}

	write("second-model")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expectState(t, notify, "RELOADING=1")
	expectState(t, notify, "READY=1")
	if m := modelsOf(t, base); !strings.Contains(m, `"second-model"`) || strings.Contains(m, `"first-model"`) {
		t.Fatalf("models after SIGHUP: %s", m)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expectState(t, notify, "STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case <-svc.exited:
		if svc.waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v", svc.waitErr)
		}
	case <-ctx.Done():
		t.Fatal("still running 15 s after SIGTERM")
	}
}

// TestReloadRightAfterReady sends SIGHUP the instant READY=1 arrives, as
// `systemctl start` followed by `systemctl reload` does: the process must
// reload, not die of an unhandled signal. Several starts, since the window
// the old code left open was a few hundred microseconds.
func TestReloadRightAfterReady(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildProxy(t)
	for i := range 5 {
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "config.yaml")
		cfg := "server: {host: 127.0.0.1, port: " + freePort(t) + ", api_keys: [sig-key], shutdown_grace: 1s}\n" +
			"log: {level: warn}\nproviders:\n  - {name: mock, type: mock, models: [m]}\n"
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		svc := startService(t, bin, dir, cfgPath)
		cmd, notify := svc.cmd, svc.notify
		expectState(t, notify, "READY=1")
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		expectState(t, notify, "RELOADING=1")
		expectState(t, notify, "READY=1")
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-svc.exited:
			if svc.waitErr != nil {
				t.Fatalf("start %d: exit after SIGHUP then SIGTERM: %v", i, svc.waitErr)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("start %d: still running 15 s after SIGTERM", i)
		}
	}
}

// service is the built binary running as systemd would run it.
type service struct {
	cmd     *exec.Cmd
	notify  <-chan string
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// startService runs `proxy serve --config cfgPath` with a notify socket in
// dir; it is killed at cleanup, and its stderr logged if the test failed.
func startService(t *testing.T, bin, dir, cfgPath string) *service {
	t.Helper()
	svc := &service{notify: notifications(t, filepath.Join(dir, "notify.sock")), exited: make(chan struct{})}
	svc.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	svc.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify.sock"))
	var stderr bytes.Buffer
	svc.cmd.Stderr = &stderr
	if err := svc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { svc.waitErr = svc.cmd.Wait(); close(svc.exited) }()
	t.Cleanup(func() {
		_ = svc.cmd.Process.Kill()
		<-svc.exited
		if t.Failed() {
			t.Logf("proxy stderr:\n%s", stderr.String())
		}
	})
	return svc
}
