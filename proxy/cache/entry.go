package cache

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// An entry is stored as one byte string, the same in every store:
//
//	version byte, kind byte (plain or stream),
//	uvarint length + content type,
//	plain:  the body;
//	stream: uvarint event count, per event uvarint delay (ms since the
//	        previous event) and uvarint length, then the events' bytes
//	        back to back.
//
// A stream's events are the bytes its client received, in the client's
// protocol, one upstream event each: replayed at once they are a single
// write, at the recorded pace one write per event.
const entryVersion = 1

const (
	kindPlain  = 0
	kindStream = 1
)

// errBadEntry is a stored value this proxy cannot read (written by
// another version, or damaged): treated as a miss.
var errBadEntry = errors.New("cache: unreadable entry")

// EncodePlain returns the entry of a whole answer.
func EncodePlain(contentType, body []byte) []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen32+len(contentType)+len(body))
	b = append(b, entryVersion, kindPlain)
	b = binary.AppendUvarint(b, uint64(len(contentType)))
	b = append(b, contentType...)
	return append(b, body...)
}

// Budget bounds the bytes that all the recordings under way hold
// together, so that many streams recorded at once cannot hold more than
// the operator allowed, whoever opens them.
type Budget struct{ left atomic.Int64 }

// NewBudget returns a budget of n bytes.
func NewBudget(n int64) *Budget {
	b := &Budget{}
	b.left.Store(n)
	return b
}

func (b *Budget) take(n int64) bool {
	if b.left.Add(-n) < 0 {
		b.left.Add(n)
		return false
	}
	return true
}

// Left is what remains of the budget.
func (b *Budget) Left() int64 { return b.left.Load() }

// Recorder collects a stream's events as its client receives them, up to
// a size bound and within a shared budget: a stream that outgrows either
// is dropped, not cut. Release gives its bytes back to the budget.
type Recorder struct {
	index   []byte // delay, length pairs
	payload []byte
	events  int
	max     int
	last    time.Time
	budget  *Budget
	held    int64
	// Over is set once the stream outgrew the bound or the budget.
	Over bool
}

// NewRecorder starts a recording bounded to max bytes within budget,
// timed from start.
func NewRecorder(max int, budget *Budget, start time.Time) *Recorder {
	return &Recorder{max: max, budget: budget, last: start}
}

// Add records one event's bytes, sent at now.
func (r *Recorder) Add(ev []byte, now time.Time) {
	if r.Over || len(ev) == 0 {
		return
	}
	need := int64(len(ev) + 2*binary.MaxVarintLen64)
	if len(r.index)+len(r.payload)+int(need) > r.max || !r.budget.take(need) {
		r.Over, r.index, r.payload = true, nil, nil
		r.Release()
		return
	}
	r.held += need
	delay := max(now.Sub(r.last), 0)
	r.last = now
	r.index = binary.AppendUvarint(r.index, uint64(delay/time.Millisecond))
	r.index = binary.AppendUvarint(r.index, uint64(len(ev)))
	r.payload = append(r.payload, ev...)
	r.events++
}

// Release returns the recording's bytes to the budget; the recording is
// not to be encoded afterwards.
func (r *Recorder) Release() {
	r.budget.left.Add(r.held)
	r.held = 0
}

// Encode returns the entry of the recorded stream.
func (r *Recorder) Encode(contentType []byte) []byte {
	b := make([]byte, 0, 2+3*binary.MaxVarintLen32+len(contentType)+len(r.index)+len(r.payload))
	b = append(b, entryVersion, kindStream)
	b = binary.AppendUvarint(b, uint64(len(contentType)))
	b = append(b, contentType...)
	b = binary.AppendUvarint(b, uint64(r.events))
	b = append(b, r.index...)
	return append(b, r.payload...)
}

// Entry is a decoded stored answer. Its slices point into the stored
// bytes, which nobody changes: a hit is served without copying them.
type Entry struct {
	ContentType []byte
	// Stream: the answer is a stream of Events; else Body is the answer.
	Stream bool
	Body   []byte
	// Events is a stream's events, Payload all their bytes back to back.
	Events  Events
	Payload []byte
}

// Events walks a stored stream's events in order.
type Events struct {
	n       int
	index   []byte
	payload []byte
}

// Len is the number of events.
func (e Events) Len() int { return e.n }

// Next returns the next event and the delay before it was sent, or ok
// false after the last one.
func (e *Events) Next() (ev []byte, delay time.Duration, ok bool) {
	if e.n == 0 {
		return nil, 0, false
	}
	ms, k := binary.Uvarint(e.index)
	e.index = e.index[k:]
	size, k := binary.Uvarint(e.index)
	e.index = e.index[k:]
	ev, e.payload = e.payload[:size], e.payload[size:]
	e.n--
	return ev, time.Duration(ms) * time.Millisecond, true
}

// Decode reads a stored entry, checking it whole so that replaying it
// cannot fail halfway.
func Decode(b []byte) (Entry, error) {
	var e Entry
	if len(b) < 2 || b[0] != entryVersion || b[1] > kindStream {
		return e, errBadEntry
	}
	stream := b[1] == kindStream
	b = b[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return e, errBadEntry
	}
	e.ContentType, b = b[k:k+int(n)], b[k+int(n):]
	if !stream {
		e.Body = b
		return e, nil
	}
	e.Stream = true
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return e, errBadEntry
	}
	b = b[k:]
	index := b
	total := uint64(0)
	for i := uint64(0); i < count; i++ {
		_, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return e, errBadEntry
		}
		size, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 || size > uint64(len(b)) {
			return e, errBadEntry
		}
		b = b[k1+k2:]
		total += size
	}
	if total != uint64(len(b)) {
		return e, errBadEntry
	}
	e.Events = Events{n: int(count), index: index[:len(index)-len(b)], payload: b}
	e.Payload = b
	return e, nil
}
