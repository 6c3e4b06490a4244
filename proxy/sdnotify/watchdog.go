package sdnotify

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Watchdog sends one keep-alive ping (WATCHDOG=1).
func Watchdog() error { return Notify(stateWatchdog) }

// WatchdogInterval reports the interval systemd expects pings within
// (WatchdogSec= in the unit), or 0 when the watchdog is off or meant for
// another process (WATCHDOG_PID names a different pid).
func WatchdogInterval() (time.Duration, error) {
	return watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

func watchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, fmt.Errorf("sdnotify: bad WATCHDOG_PID %q: %w", pid, err)
		}
		if p != self {
			return 0, nil
		}
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("sdnotify: bad WATCHDOG_USEC %q", usec)
	}
	return time.Duration(n) * time.Microsecond, nil
}

// RunWatchdog pings at half the configured interval until ctx ends, so one
// late tick never trips the watchdog. It returns at once when the watchdog is
// off. Run it in its own goroutine.
func RunWatchdog(ctx context.Context) error {
	interval, err := WatchdogInterval()
	if err != nil || interval == 0 {
		return err
	}
	return runWatchdog(ctx, os.Getenv("NOTIFY_SOCKET"), interval/2)
}

func runWatchdog(ctx context.Context, socket string, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := notifyTo(socket, stateWatchdog); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
