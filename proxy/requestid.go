package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// requestIDs makes request ids unique across restarts (a random prefix per
// process) without a random read per request (a counter after it).
type requestIDs struct {
	prefix []byte
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := make([]byte, 0, 13)
	p = append(p, "req_"...)
	p = hex.AppendEncode(p, b[:])
	return &requestIDs{prefix: append(p, '_')}
}

// append appends a fresh id to dst.
func (r *requestIDs) append(dst []byte) []byte {
	dst = append(dst, r.prefix...)
	return strconv.AppendUint(dst, r.n.Add(1), 36)
}
