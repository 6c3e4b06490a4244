package wire

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a Retry-After header value, either delta-seconds
// ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to now.
// It reports false for an empty or unparsable value. A date in the past
// yields 0, true: the server said "now", which differs from "nothing said".
// Fractional seconds ("1.5"), which some providers send although RFC 9110
// does not allow them, are accepted and rounded up to the millisecond.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[0]; c >= '0' && c <= '9' {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			// Cap before multiplying so absurd values cannot overflow.
			if n > maxRetryAfterSeconds {
				n = maxRetryAfterSeconds
			}
			return time.Duration(n) * time.Second, true
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, false
		}
		if f > maxRetryAfterSeconds {
			f = maxRetryAfterSeconds
		}
		ms := int64(f*1000 + 0.999)
		return time.Duration(ms) * time.Millisecond, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// maxRetryAfterSeconds bounds parsed values to 32 days, the longest quota
// window an upstream names (a subscription's monthly quota resets up to a
// month ahead); key pools cap far lower, account pools at this bound.
const maxRetryAfterSeconds = 32 * 86400
