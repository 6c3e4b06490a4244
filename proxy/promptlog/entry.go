package promptlog

import (
	"strconv"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/redact"
	"github.com/valyala/fastjson"
)

// entry packs one Log call into a single pooled buffer:
// requestID | ingress | model | body.
type entry struct {
	ts                int64 // unix nanoseconds
	buf               *[]byte
	nID, nIngress, nM int
	origLen           int // body length before truncation
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func newEntry(requestID, ingress, model string, body []byte) entry {
	e := entry{ts: time.Now().UnixNano(), nID: len(requestID), nIngress: len(ingress), nM: len(model), origLen: len(body)}
	if len(body) > MaxBodyBytes {
		body = body[:MaxBodyBytes]
	}
	e.buf = bufPool.Get().(*[]byte)
	b := append((*e.buf)[:0], requestID...)
	b = append(b, ingress...)
	b = append(b, model...)
	b = append(b, body...)
	*e.buf = b
	return e
}

func (e entry) release() {
	if cap(*e.buf) > MaxBodyBytes {
		return // keep the pool small
	}
	bufPool.Put(e.buf)
}

func (e entry) parts() (id, ingress, model string, body []byte) {
	b := *e.buf
	i, j, k := e.nID, e.nID+e.nIngress, e.nID+e.nIngress+e.nM
	return string(b[:i]), string(b[i:j]), string(b[j:k]), b[k:]
}

// appendLine redacts and encodes the entry as one JSON line. The redacted
// body is written into dst first (as scratch) to validate it, then moved.
func (e entry) appendLine(dst []byte, r *redact.Redactor) []byte {
	id, ingress, model, body := e.parts()
	dst = append(dst, `{"ts":"`...)
	dst = time.Unix(0, e.ts).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","request_id":`...)
	dst = wire.AppendJSONString(dst, r.String(id))
	dst = append(dst, `,"ingress":`...)
	dst = wire.AppendJSONString(dst, ingress)
	dst = append(dst, `,"model":`...)
	dst = wire.AppendJSONString(dst, r.String(model))
	dst = append(dst, `,"body":`...)
	start := len(dst)
	dst = r.Bytes(dst, body)
	truncated := e.origLen > len(body)
	if truncated || fastjson.ValidateBytes(dst[start:]) != nil {
		// Not JSON (or cut short): re-encode the redacted text as a string.
		red := string(dst[start:])
		dst = wire.AppendJSONString(dst[:start], red)
	}
	if truncated {
		dst = append(dst, `,"truncated":`...)
		dst = strconv.AppendInt(dst, int64(e.origLen), 10)
	}
	return append(dst, '}', '\n')
}
