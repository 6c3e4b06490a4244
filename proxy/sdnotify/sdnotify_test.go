package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a real unixgram socket like systemd's notify socket and
// points $NOTIFY_SOCKET at it.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram", Name: name})
	if err != nil {
		t.Fatalf("listen %q: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func recv(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notify datagram: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyStates(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn := listen(t, sock)
	t.Setenv("NOTIFY_SOCKET", sock)

	tests := []struct {
		name string
		send func() error
		want func(string) bool
	}{
		{"ready", Ready, eq("READY=1")},
		{"stopping", Stopping, eq("STOPPING=1")},
		{"status", func() error { return Status("serving 3 providers") }, eq("STATUS=serving 3 providers")},
		{"status newline cannot inject", func() error { return Status("a\nREADY=1") }, eq("STATUS=a READY=1")},
		{"raw", func() error { return Notify("STATUS=x\nREADY=1") }, eq("STATUS=x\nREADY=1")},
		{"reloading", Reloading, func(s string) bool {
			lines := strings.Split(s, "\n")
			if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
				return false
			}
			n, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
			return err == nil && n > 0
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatalf("send: %v", err)
			}
			if got := recv(t, conn); !tc.want(got) {
				t.Fatalf("datagram %q not as expected", got)
			}
		})
	}
}

func eq(want string) func(string) bool { return func(s string) bool { return s == want } }

func TestNotifyAbstractSocket(t *testing.T) {
	name := "proxy-sdnotify-test-" + strconv.Itoa(int(time.Now().UnixNano()))
	conn := listen(t, "\x00"+name)
	t.Setenv("NOTIFY_SOCKET", "@"+name)
	if err := Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got := recv(t, conn); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyUnsetIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready(); err != nil {
		t.Fatalf("Ready without NOTIFY_SOCKET: %v", err)
	}
}

func TestNotifyMissingSocketFails(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent.sock"))
	err := Ready()
	if err == nil || !strings.Contains(err.Error(), "sdnotify: dial") {
		t.Fatalf("want dial error, got %v", err)
	}
}
