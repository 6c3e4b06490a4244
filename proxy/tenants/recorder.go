package tenants

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Recorder writes usage records to a store in the background. Record only
// copies a value into a bounded channel: a full queue (a store down or too
// slow) drops the record and counts it, and the request is served anyway.
type Recorder struct {
	store    Store
	log      *zap.Logger
	q        chan Record
	batch    int
	interval time.Duration
	dropped  atomic.Int64
	written  atomic.Int64
	// lastDropLog rate-limits the drop warning to one per interval.
	lastDropLog atomic.Int64
	done        chan struct{}
	stop        chan struct{}
	subs        subscribers
}

// NewRecorder starts the writer; Close stops it after writing what is queued.
func NewRecorder(store Store, log *zap.Logger, queue, batch int, interval time.Duration) *Recorder {
	if queue <= 0 {
		queue = 10000
	}
	if batch <= 0 {
		batch = 500
	}
	if interval <= 0 {
		interval = time.Second
	}
	r := &Recorder{store: store, log: log, q: make(chan Record, queue), batch: batch, interval: interval,
		done: make(chan struct{}), stop: make(chan struct{})}
	go r.run(make([]Record, 0, batch))
	return r
}

// Record queues rec without blocking and without allocating.
func (r *Recorder) Record(rec *Record) {
	select {
	case r.q <- *rec:
	default:
		r.drop(1, "usage queue full (store.usage_queue)", nil)
	}
}

// Dropped is the number of records lost (queue full or store failing).
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Written is the number of records stored.
func (r *Recorder) Written() int64 { return r.written.Load() }

// Subscribe returns a channel of records as they are written (the live
// log) and a function to end the subscription. A subscriber too slow to
// keep up loses records, counted in *lost.
func (r *Recorder) Subscribe(buffer int) (<-chan Record, *atomic.Int64, func()) {
	return r.subs.add(buffer)
}

func (r *Recorder) drop(n int, why string, err error) {
	total := r.dropped.Add(int64(n))
	now := time.Now().UnixNano()
	last := r.lastDropLog.Load()
	if now-last < int64(r.interval) || !r.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn("usage records dropped", zap.String("reason", why), zap.Int("now", n),
		zap.Int64("dropped_total", total), zap.Error(err))
}

// drainEvery is how often the writer takes what requests queued. The
// writer sleeps on a timer, not on the queue: a request's send then never
// has to wake it (a wake-up costs the request more than the rest of its
// key work), and the live log is at most this late.
const drainEvery = 100 * time.Millisecond

// run writes batches from buf (allocated by NewRecorder, so that the
// writer allocates nothing of its own once running).
func (r *Recorder) run(buf []Record) {
	defer close(r.done)
	tick := time.NewTicker(min(drainEvery, r.interval))
	defer tick.Stop()
	lastFlush := time.Now()
	flush := func() {
		lastFlush = time.Now()
		if len(buf) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.store.InsertUsage(ctx, buf)
		cancel()
		if err != nil {
			r.drop(len(buf), "store write failed", err)
		} else {
			r.written.Add(int64(len(buf)))
		}
		buf = buf[:0]
	}
	// drain takes what is queued now, publishing it to the live log.
	drain := func() {
		for {
			select {
			case rec := <-r.q:
				r.subs.publish(&rec)
				buf = append(buf, rec)
				if len(buf) >= r.batch {
					flush()
				}
			default:
				return
			}
		}
	}
	for {
		select {
		case <-tick.C:
			drain()
			if time.Since(lastFlush) >= r.interval {
				flush()
			}
		case <-r.stop:
			drain()
			flush()
			return
		}
	}
}

// Close writes what is queued and stops the writer.
func (r *Recorder) Close() {
	close(r.stop)
	<-r.done
}

type subscriber struct {
	ch   chan Record
	lost *atomic.Int64
}

type subscribers struct {
	mu   sync.Mutex
	next int
	m    map[int]subscriber
}

func (s *subscribers) add(buffer int) (<-chan Record, *atomic.Int64, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]subscriber{}
	}
	id := s.next
	s.next++
	sub := subscriber{ch: make(chan Record, buffer), lost: new(atomic.Int64)}
	s.m[id] = sub
	var once sync.Once
	return sub.ch, sub.lost, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.m, id)
			s.mu.Unlock()
		})
	}
}

func (s *subscribers) publish(rec *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.m {
		select {
		case sub.ch <- *rec:
		default:
			sub.lost.Add(1)
		}
	}
}
