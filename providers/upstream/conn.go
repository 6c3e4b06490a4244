package upstream

import (
	"net"
	"time"
)

// timedConn enforces the first-byte and idle timeouts on an upstream
// connection. fasthttp sets one read deadline for a whole response, which
// would also cut a long stream; here the deadline moves with every read:
// until the first byte of an answer arrives it is the first-byte timeout,
// afterwards the idle timeout between reads.
type timedConn struct {
	net.Conn
	firstByte, idle time.Duration
	awaitingFirst   bool
	// deadline is the read deadline in force; it is moved only when it has
	// drifted by more than a sixteenth of the timeout, which saves a runtime
	// timer update on most reads at the cost of that much slack.
	deadline time.Time
	mode     bool // awaitingFirst when deadline was set
	// whole is the deadline of the whole answer fasthttp was asked for
	// (DoTimeout), zero when none: no read goes past it.
	whole time.Time
}

// SetReadDeadline is called by fasthttp right before it reads a response:
// the moment an answer starts being awaited. t is the whole answer's
// deadline, or zero.
func (c *timedConn) SetReadDeadline(t time.Time) error {
	c.awaitingFirst = true
	c.whole = t
	return nil
}

func (c *timedConn) Read(p []byte) (int, error) {
	d := c.idle
	if c.awaitingFirst {
		d = c.firstByte
	}
	if d > 0 || !c.whole.IsZero() {
		want := time.Now().Add(d)
		if d <= 0 || (!c.whole.IsZero() && c.whole.Before(want)) {
			want = c.whole
		}
		if c.mode != c.awaitingFirst || want.Sub(c.deadline) > d/16 {
			if err := c.Conn.SetReadDeadline(want); err != nil {
				return 0, err
			}
			c.deadline, c.mode = want, c.awaitingFirst
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.awaitingFirst = false
	}
	return n, err
}
