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
}

// SetReadDeadline is called by fasthttp right before it reads a response:
// the moment an answer starts being awaited.
func (c *timedConn) SetReadDeadline(time.Time) error {
	c.awaitingFirst = true
	return nil
}

func (c *timedConn) Read(p []byte) (int, error) {
	d := c.idle
	if c.awaitingFirst {
		d = c.firstByte
	}
	if d > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.awaitingFirst = false
	}
	return n, err
}
