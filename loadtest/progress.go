package loadtest

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress prints a status line every interval: rewritten in place with a
// carriage return on a terminal, one plain line per interval otherwise
// (logs, CI).
type progress struct {
	w        io.Writer
	tty      bool
	r        *runner
	capAt    time.Duration
	total    int64
	lastSent int64
	lastT    time.Time
	printed  bool
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) tick(now time.Time) {
	var sent, errs int64
	var p99 float64
	for i := range p.r.eps {
		h, c := p.r.snapshot(i)
		sent += c.Sent
		errs += c.ErrorTotal()
		if i == 0 {
			p99 = usToMs(h.latency(true).ValueAtQuantile(99))
		}
	}
	if p.lastT.IsZero() {
		p.lastT = p.r.start
	}
	rate := 0.0
	if dt := now.Sub(p.lastT).Seconds(); dt > 0 {
		rate = float64(sent-p.lastSent) / dt
	}
	p.lastSent, p.lastT = sent, now
	elapsed := now.Sub(p.r.start)
	remaining := p.capAt - elapsed
	if remaining < 0 {
		remaining = 0
	}
	line := fmt.Sprintf("%d/%d req  %.1f req/s  errors %d  p99 %.2f ms  elapsed %.1fs  remaining <= %s",
		sent, p.total, rate, errs, p99, elapsed.Seconds(), remaining.Round(time.Second))
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.printed = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish ends the in-place line so the report starts on a fresh line.
func (p *progress) finish() {
	if p.tty && p.printed {
		fmt.Fprintln(p.w)
	}
}
