package loadtest

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// startAtTolerance is how far in the past --start-at may be: machines
// given one time by a script reach it a moment apart. Later than that,
// the run would not start together with the others.
const startAtTolerance = 2 * time.Second

// startAtHorizon bounds how far ahead --start-at may be; a time further
// off is a mistake (a wrong date or unit), not a plan.
const startAtHorizon = 24 * time.Hour

// parseStartAt reads --start-at: RFC 3339 (with or without fractional
// seconds) or Unix time in seconds (fractions allowed), judged against now.
func parseStartAt(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var ok bool
		if t, ok = parseUnix(s); !ok {
			return time.Time{}, fmt.Errorf("--start-at %q: want RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds", s)
		}
	}
	switch {
	case t.Before(now.Add(-startAtTolerance)):
		return time.Time{}, fmt.Errorf("--start-at %s is %v in the past (more than %v): the others would have started without this machine",
			t.UTC().Format(time.RFC3339Nano), now.Sub(t).Round(time.Millisecond), startAtTolerance)
	case t.After(now.Add(startAtHorizon)):
		return time.Time{}, fmt.Errorf("--start-at %s is more than %v ahead", t.UTC().Format(time.RFC3339Nano), startAtHorizon)
	}
	return t, nil
}

// parseUnix reads Unix seconds with an optional fraction of up to nine
// digits, exactly (a float64 would round away the nanoseconds).
func parseUnix(s string) (time.Time, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec <= 0 || len(frac) > 9 {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if ns, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil || frac[0] == '+' || frac[0] == '-' {
			return time.Time{}, false
		}
	}
	return time.Unix(sec, ns), true
}

// waitUntil blocks until t, saying so on progress (which may be nil), or
// until ctx ends.
func waitUntil(ctx context.Context, t time.Time, progress io.Writer) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	if progress != nil {
		fmt.Fprintf(progress, "loadtest: waiting %v for the agreed start %s\n", d.Round(time.Millisecond),
			t.UTC().Format(time.RFC3339Nano))
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopped while waiting for --start-at: %w", ctx.Err())
	}
}
