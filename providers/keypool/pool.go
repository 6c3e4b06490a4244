package keypool

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Key is one credential of a provider as configured.
type Key struct {
	Secret string
	// Weight scales the key's share of traffic; <= 0 means 1.
	Weight int
	// MaxConcurrent caps the key's in-flight requests; 0 means no cap.
	MaxConcurrent int
	// Label is a safe display id (never the secret); empty means "key#<index>".
	Label string
}

// Options tunes health and cooldown. Zero values take the documented defaults.
type Options struct {
	// Window is how many recent outcomes per key are remembered (default 20, at most 64).
	Window int
	// MinSamples is the fewest outcomes in the window before a key can be
	// judged unhealthy (default 5).
	MinSamples int
	// FailureRatio: a key is unhealthy when failures/outcomes in the window
	// exceeds it (default 0.5).
	FailureRatio float64
	// UnhealthyFor is how long an unhealthy key is kept out before a single
	// probe request may try it (default 30 s).
	UnhealthyFor time.Duration
	// BaseCooldown is the first cooldown after a 429 without Retry-After; it
	// doubles on each further consecutive 429 (default 1 s).
	BaseCooldown time.Duration
	// MaxCooldown caps any cooldown before jitter (default 60 s).
	MaxCooldown time.Duration
	// RejectedFor is how long a key whose credential the upstream rejected
	// stays out before one probe request may try it again; it doubles on
	// each further rejection (default 1 min).
	RejectedFor time.Duration
	// MaxRejectedFor caps that spell (default 1 h).
	MaxRejectedFor time.Duration
	// Jitter adds up to this fraction of a cooldown, at random, so that keys
	// limited together do not come back together (default 0.2; negative = none).
	Jitter float64
	// Now is the clock Release and Snapshot read (default time.Now).
	Now func() time.Time
	// Rand returns a uniform int64 in [0, n) for jitter (default math/rand/v2).
	// It is called under a per-key lock, from many goroutines.
	Rand func(n int64) int64
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 20
	}
	if o.Window > 64 {
		o.Window = 64
	}
	if o.MinSamples <= 0 {
		o.MinSamples = 5
	}
	if o.MinSamples > o.Window {
		o.MinSamples = o.Window
	}
	if o.FailureRatio <= 0 || o.FailureRatio > 1 {
		o.FailureRatio = 0.5
	}
	if o.UnhealthyFor <= 0 {
		o.UnhealthyFor = 30 * time.Second
	}
	if o.BaseCooldown <= 0 {
		o.BaseCooldown = time.Second
	}
	if o.MaxCooldown <= 0 {
		o.MaxCooldown = 60 * time.Second
	}
	if o.RejectedFor <= 0 {
		o.RejectedFor = time.Minute
	}
	if o.MaxRejectedFor <= 0 {
		o.MaxRejectedFor = time.Hour
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Int64N
	}
}

// strideUnit is the virtual-time cost of one request on a weight-1 key.
const strideUnit = 1 << 24

// maxWeight keeps strides positive and cross products far from overflow.
const maxWeight = 1 << 16

// slot is one key's live state. Fields read by Acquire are atomics; the
// window and 429 streak are guarded by mu, which only Release and admin
// calls take.
type slot struct {
	inflight atomic.Int32
	// disabled: the operator took the key out (Disable); only Reenable or
	// a passing health check brings it back.
	disabled atomic.Bool
	// rejectedUntil: the upstream rejected the credential; out until then
	// (unix ns), then probed by one request. 0 = not rejected.
	rejectedUntil  atomic.Int64
	cooldownUntil  atomic.Int64 // unix ns; in the past or 0 = not cooling
	unhealthyUntil atomic.Int64 // unix ns; 0 = healthy
	pass           atomic.Uint64

	secret string
	label  string
	weight int64
	max    int32
	stride uint64

	mu        sync.Mutex
	fails     uint64 // ring of outcomes: bit set = failure
	n, pos    int    // outcomes held, next write position
	streak429 int
	// rejections counts consecutive credential rejections, for the backoff.
	rejections int

	_ [64]byte // keep hot atomics of neighbouring keys off one cache line
}

// Pool is a provider's set of keys. It is safe for concurrent use.
type Pool struct {
	slots  []slot
	rr     atomic.Uint64
	vtime  atomic.Uint64
	opts   Options
	ratioK int64 // FailureRatio in parts per 1<<20
}

// New builds a pool; a pool without keys answers every Acquire with ErrNoKey.
func New(keys []Key, opts Options) *Pool {
	opts.defaults()
	p := &Pool{
		slots:  make([]slot, len(keys)),
		opts:   opts,
		ratioK: int64(opts.FailureRatio * (1 << 20)),
	}
	for i, k := range keys {
		s := &p.slots[i]
		s.secret = k.Secret
		s.label = k.Label
		if s.label == "" {
			s.label = "key#" + strconv.Itoa(i)
		}
		w := k.Weight
		if w <= 0 {
			w = 1
		}
		if w > maxWeight {
			w = maxWeight
		}
		s.weight = int64(w)
		s.stride = strideUnit / uint64(w)
		if k.MaxConcurrent > 0 {
			s.max = int32(min(k.MaxConcurrent, 1<<30))
		}
	}
	return p
}

// Len is the number of keys.
func (p *Pool) Len() int { return len(p.slots) }

// Fingerprint is a stable, non-reversible label for a secret ("sha256:1a2b3c4d"),
// for configs that want labels that survive reordering of keys.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// unhealthyWindow reports whether the window's failure ratio is over the threshold.
func (p *Pool) unhealthyWindow(s *slot) bool {
	if s.n < p.opts.MinSamples {
		return false
	}
	f := int64(bits.OnesCount64(s.fails))
	return f<<20 > p.ratioK*int64(s.n)
}

func (p *Pool) push(s *slot, fail bool) {
	bit := uint64(1) << uint(s.pos)
	if fail {
		s.fails |= bit
	} else {
		s.fails &^= bit
	}
	s.pos++
	if s.pos == p.opts.Window {
		s.pos = 0
	}
	if s.n < p.opts.Window {
		s.n++
	}
}

func resetWindow(s *slot) {
	s.fails, s.n, s.pos = 0, 0, 0
}

func onesInWindow(s *slot) int { return bits.OnesCount64(s.fails) }
