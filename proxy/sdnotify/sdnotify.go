// Package sdnotify tells systemd about the proxy's lifecycle (sd_notify
// protocol) so a Type=notify unit is only "started" once the listener is up,
// and reloads and shutdowns show up in `systemctl status`.
//
// The protocol is one unix datagram of newline-separated KEY=VALUE pairs sent
// to the socket named in $NOTIFY_SOCKET. When the variable is unset (not run
// by systemd, or in tests) every call is a no-op, so callers never branch on
// how they were started.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Protocol states understood by systemd.
const (
	stateReady     = "READY=1"
	stateReloading = "RELOADING=1"
	stateStopping  = "STOPPING=1"
	stateWatchdog  = "WATCHDOG=1"
)

// Notify sends state (one or more KEY=VALUE lines) to $NOTIFY_SOCKET.
// It returns nil without doing anything when the variable is unset.
func Notify(state string) error {
	return notifyTo(os.Getenv("NOTIFY_SOCKET"), state)
}

// Ready reports that start-up (or a reload) finished and the proxy serves.
func Ready() error { return Notify(stateReady) }

// Reloading reports that a configuration reload started. systemd 253+ wants
// MONOTONIC_USEC with it for Type=notify-reload; older versions ignore it,
// so sending it always is harmless.
func Reloading() error {
	return Notify(stateReloading + "\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10))
}

// Stopping reports that graceful shutdown started, so systemd does not treat
// the draining period as a hang.
func Stopping() error { return Notify(stateStopping) }

// Status sets the free-form status line shown by `systemctl status`.
// Newlines would start a new KEY=VALUE pair, so they are replaced.
func Status(s string) error {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return Notify("STATUS=" + string(b))
}

func notifyTo(socket, state string) error {
	if socket == "" {
		return nil
	}
	addr := &net.UnixAddr{Net: "unixgram", Name: socket}
	// A leading '@' names a Linux abstract socket; Go spells that with a NUL.
	if socket[0] == '@' {
		addr.Name = "\x00" + socket[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sdnotify: dial %s: %w", socket, err)
	}
	defer conn.Close()
	// The receiver is systemd itself; a full queue means it is wedged, and
	// the proxy must not hang on its behalf.
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: send %q: %w", firstLine(state), err)
	}
	return nil
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
