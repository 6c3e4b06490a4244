package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	Addr, Username, Password string
	DB                       int
	// Prefix starts every key the store writes.
	Prefix string
	// Timeout bounds each read and write: a slow Redis costs a miss, not
	// the request's latency.
	Timeout time.Duration
	// MaxValue bounds one stored value in bytes; larger ones are not stored.
	MaxValue int
	// MaxWrites bounds the writes under way at once; more are dropped.
	MaxWrites int
}

// Redis is a store shared by every proxy instance that names the same
// Redis: each entry is one string key with the entry's TTL, so Redis
// expires it itself (its own maxmemory policy bounds the whole). Writes
// run in the background, bounded, so that storing an answer never delays
// it.
type Redis struct {
	c       *redis.Client
	o       RedisOptions
	writes  chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool
	errs    atomic.Int64
	dropped atomic.Int64
}

// NewRedis returns a store on the Redis at o.Addr. It does not connect
// until first used.
func NewRedis(o RedisOptions) *Redis {
	if o.MaxWrites <= 0 {
		o.MaxWrites = 64
	}
	c := redis.NewClient(&redis.Options{
		Addr:         o.Addr,
		Username:     o.Username,
		Password:     o.Password,
		DB:           o.DB,
		DialTimeout:  o.Timeout,
		ReadTimeout:  o.Timeout,
		WriteTimeout: o.Timeout,
		// Give up at once: a retry would be a second timeout on the
		// request's path.
		MaxRetries: -1,
		// No CLIENT SETINFO: Redis 7.0 and older answer it with an error.
		DisableIdentity: true,
	})
	return &Redis{c: c, o: o, writes: make(chan struct{}, o.MaxWrites)}
}

func (r *Redis) key(k Key) string { return r.o.Prefix + k.String() }

func (r *Redis) Get(k Key) ([]byte, bool) {
	if r.closed.Load() {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.o.Timeout)
	defer cancel()
	b, err := r.c.Get(ctx, r.key(k)).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			r.errs.Add(1)
		}
		return nil, false
	}
	if r.o.MaxValue > 0 && len(b) > r.o.MaxValue {
		return nil, false // written by an instance with a larger bound
	}
	return b, true
}

func (r *Redis) Put(k Key, value []byte, ttl time.Duration) {
	if r.closed.Load() || ttl <= 0 || (r.o.MaxValue > 0 && len(value) > r.o.MaxValue) {
		return
	}
	select {
	case r.writes <- struct{}{}:
	default:
		r.dropped.Add(1)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.writes }()
		ctx, cancel := context.WithTimeout(context.Background(), r.o.Timeout)
		defer cancel()
		if err := r.c.Set(ctx, r.key(k), value, ttl).Err(); err != nil {
			r.errs.Add(1)
		}
	}()
}

func (r *Redis) Stats() Stats {
	return Stats{Errors: r.errs.Load(), Dropped: r.dropped.Load()}
}

// Close waits for the writes under way and closes the connections.
func (r *Redis) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.wg.Wait()
	return r.c.Close()
}
