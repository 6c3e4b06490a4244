package tenants

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Options configure a Service.
type Options struct {
	Store Store
	// Shared, if set, counts limits and budgets across instances.
	Shared Shared
	// LimitsFailOpen admits requests whose rate limits nobody can count
	// when Shared is down, within this instance's own counters;
	// BudgetsFailOpen the same for budgets. Closed refuses them.
	LimitsFailOpen, BudgetsFailOpen bool
	Log                             *zap.Logger
	Queue, Batch                    int
	// FlushInterval writes usage batches and spend; SyncInterval reloads
	// keys and spend written by other instances.
	FlushInterval, SyncInterval time.Duration
	// Retention deletes usage older than it (0 keeps everything).
	Retention time.Duration
	// Wrap makes each entry's Ext.
	Wrap func(*Entry) any
}

// Service is virtual keys and usage for one proxy process.
type Service struct {
	opts   Options
	table  *Table
	rec    *Recorder
	spends chan spendOp
	// sharedDown counts requests decided without the shared store because
	// it failed (for metrics and tests).
	sharedDown atomic.Int64
	// sharedPause (unix ns) is when the shared store is asked again after
	// a failure.
	sharedPause atomic.Int64
	mu          sync.Mutex // serialises key edits
	stop        chan struct{}
	wg          sync.WaitGroup
}

type spendOp struct {
	id, period    string
	tokens, units int64
}

// New loads the keys from the store and starts the background work.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 2 * time.Second
	}
	s := &Service{opts: o, table: NewTable(o.Wrap), stop: make(chan struct{}), spends: make(chan spendOp, 4096)}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	s.rec = NewRecorder(o.Store, o.Log, o.Queue, o.Batch, o.FlushInterval)
	s.wg.Add(2)
	go s.syncLoop()
	go s.spendLoop()
	return s, nil
}

// Close flushes usage and spend and stops the background work.
func (s *Service) Close() {
	close(s.stop)
	s.wg.Wait()
	s.rec.Close()
	s.flushSpend(context.Background())
}

// Recorder is the usage writer (for the live log and counts).
func (s *Service) Recorder() *Recorder { return s.rec }

// Table is the in-memory key table.
func (s *Service) Table() *Table { return s.table }

// Lookup finds the active key presented; no allocation.
func (s *Service) Lookup(presented []byte, now time.Time) *Entry {
	if len(presented) < len(KeyPrefix) || string(presented[:len(KeyPrefix)]) != KeyPrefix {
		return nil
	}
	return s.table.Lookup(HashKey(presented), now)
}

// Admit counts a request of e against its limits.
func (s *Service) Admit(e *Entry, now time.Time) Decision {
	c := e.c
	if s.opts.Shared == nil {
		return c.Admit(now)
	}
	l := c.limits()
	if l.rpm == 0 && l.tpm == 0 && l.budget == 0 {
		return c.Admit(now)
	}
	if now.UnixNano() < s.sharedPause.Load() {
		// Down a moment ago: decide at once rather than have every
		// request wait for the same timeout.
		s.sharedDown.Add(1)
		return s.unshared(c, l, now)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	d, err := s.opts.Shared.Admit(ctx, e.Key.ID, l.rpm, l.tpm, l.budget, l.period)
	if err == nil {
		return d
	}
	s.sharedPause.Store(now.Add(sharedRetry).UnixNano())
	n := s.sharedDown.Add(1)
	if n == 1 || n%1000 == 0 {
		s.opts.Log.Warn("shared limit store unreachable", zap.Int64("failures", n), zap.Error(err))
	}
	return s.unshared(c, l, now)
}

// sharedRetry is how long after a failure the shared store is left alone
// (one request per this pays its timeout while it is down).
const sharedRetry = time.Second

// unshared decides a request while the shared store is down, as
// store.limits_fail and store.budgets_fail say.
func (s *Service) unshared(c *Counters, l limits, now time.Time) Decision {
	if l.budget > 0 && !s.opts.BudgetsFailOpen {
		return Decision{Verdict: Unavailable, RetryAfter: time.Second, What: "budget"}
	}
	if (l.rpm > 0 || l.tpm > 0) && !s.opts.LimitsFailOpen {
		return Decision{Verdict: Unavailable, RetryAfter: time.Second, What: "rate limit"}
	}
	// Open: admitted within this instance's own counters, which count
	// every request's tokens and hold the budget spend the store last had.
	return c.Admit(now)
}

// SharedFailures counts calls to the shared store that failed.
func (s *Service) SharedFailures() int64 { return s.sharedDown.Load() }

// Finish adds a finished request to its key's counters (e may be nil for
// config-file clients) and queues its usage record.
func (s *Service) Finish(e *Entry, rec *Record) {
	if e != nil {
		rec.KeyID = e.Key.ID
		tokens := rec.Input + rec.Output
		if s.opts.Shared != nil {
			s.shareSpend(e, tokens, rec.CostUSD)
		}
		e.c.Spend(rec.Time, tokens, rec.CostUSD)
	}
	s.rec.Record(rec)
}

// shareSpend queues a finished request's tokens (and its cost, for a
// budget in money) for the shared store, if its key has limits there.
func (s *Service) shareSpend(e *Entry, tokens int64, costUSD float64) {
	l := e.c.limits()
	if l.tpm == 0 && l.budget == 0 {
		return
	}
	units := tokens
	if l.budgetUSD {
		units = int64(math.Round(costUSD * microUSD))
	}
	select {
	case s.spends <- spendOp{id: e.Key.ID, period: l.period, tokens: tokens, units: units}:
	default:
		s.opts.Log.Warn("shared spend queue full; a request's tokens were not counted", zap.String("key", e.Key.ID))
	}
}

func (s *Service) spendLoop() {
	defer s.wg.Done()
	for {
		select {
		case op := <-s.spends:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.opts.Shared.Spend(ctx, op.id, op.tokens, op.units, op.period); err != nil {
				s.sharedDown.Add(1)
				s.opts.Log.Warn("shared spend not counted", zap.String("key", op.id), zap.Error(err))
			}
			cancel()
		case <-s.stop:
			return
		}
	}
}

func (s *Service) syncLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	lastRetention := time.Time{}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.flushSpend(ctx)
		if err := s.reload(ctx); err != nil {
			s.opts.Log.Warn("virtual keys not reloaded from the store; keeping the table", zap.Error(err))
		}
		if s.opts.Retention > 0 && time.Since(lastRetention) > time.Hour {
			lastRetention = time.Now()
			if n, err := s.opts.Store.DeleteUsageBefore(ctx, time.Now().Add(-s.opts.Retention)); err != nil {
				s.opts.Log.Warn("usage retention", zap.Error(err))
			} else if n > 0 {
				s.opts.Log.Info("usage retention: records deleted", zap.Int64("deleted", n))
			}
		}
		cancel()
	}
}

// flushSpend adds each key's unflushed spend to the store and takes back
// the total, which includes other instances' spend.
func (s *Service) flushSpend(ctx context.Context) {
	for id, e := range s.table.Entries() {
		d, period, ok := e.c.takeUnflushed()
		if !ok || period == 0 {
			continue
		}
		total, err := s.opts.Store.AddSpend(ctx, id, period, d)
		if err != nil {
			e.c.mu.Lock()
			e.c.unflushed += d
			e.c.mu.Unlock()
			s.opts.Log.Warn("budget spend not stored", zap.String("key", id), zap.Error(err))
			continue
		}
		e.c.stored(period, total)
	}
}

func (s *Service) reload(ctx context.Context) error {
	keys, err := s.opts.Store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load virtual keys: %w", err)
	}
	s.table.Replace(keys, time.Now())
	return nil
}

// KeyView is a key with its current spend, as the admin API shows it.
type KeyView struct {
	Key
	Spent Spent `json:"spent"`
}

// Spent is a key's spend in its budget period.
type Spent struct {
	Tokens      float64   `json:"tokens,omitempty"`
	CostUSD     float64   `json:"cost_usd,omitempty"`
	PeriodStart time.Time `json:"period_start"`
}

func (s *Service) view(ctx context.Context, k Key) KeyView {
	v := KeyView{Key: k}
	if k.Budget.Amount == 0 {
		return v
	}
	now := time.Now()
	var amount float64
	if e := s.table.ByID(k.ID); e != nil {
		amount, v.Spent.PeriodStart = e.c.Spent(now)
	}
	if s.opts.Shared != nil {
		if n, err := s.opts.Shared.Spent(ctx, k.ID, k.Budget.Period); err == nil {
			amount = float64(n)
			if k.Budget.Kind == BudgetUSD {
				amount /= microUSD
			}
		}
		v.Spent.PeriodStart = PeriodStart(k.Budget.Period, now)
	}
	if k.Budget.Kind == BudgetUSD {
		v.Spent.CostUSD = amount
	} else {
		v.Spent.Tokens = amount
	}
	return v
}

// List returns every key, revoked ones included.
func (s *Service) List(ctx context.Context) ([]KeyView, error) {
	keys, err := s.opts.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyView, len(keys))
	for i, k := range keys {
		out[i] = s.view(ctx, k)
	}
	return out, nil
}

// Get returns one key.
func (s *Service) Get(ctx context.Context, id string) (KeyView, error) {
	keys, err := s.opts.Store.Keys(ctx)
	if err != nil {
		return KeyView{}, err
	}
	for _, k := range keys {
		if k.ID == id {
			return s.view(ctx, k), nil
		}
	}
	return KeyView{}, ErrNotFound
}

// ErrInvalid wraps a key the operator described wrongly.
var ErrInvalid = errors.New("invalid key")

// Create stores a new key and returns its secret, shown this once.
func (s *Service) Create(ctx context.Context, k Key) (string, KeyView, error) {
	if err := k.Validate(); err != nil {
		return "", KeyView{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	secret, id, prefix, err := NewSecret()
	if err != nil {
		return "", KeyView{}, err
	}
	k.ID, k.Prefix, k.Hash, k.CreatedAt, k.RevokedAt = id, prefix, HashKey([]byte(secret)), time.Now().UTC().Truncate(time.Second), nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.uniqueName(ctx, k.Name, ""); err != nil {
		return "", KeyView{}, err
	}
	if err := s.opts.Store.CreateKey(ctx, &k); err != nil {
		return "", KeyView{}, fmt.Errorf("store key: %w", err)
	}
	if err := s.reload(ctx); err != nil {
		return "", KeyView{}, err
	}
	return secret, s.view(ctx, k), nil
}

func (s *Service) uniqueName(ctx context.Context, name, id string) error {
	keys, err := s.opts.Store.Keys(ctx)
	if err != nil {
		return err
	}
	for _, o := range keys {
		if o.RevokedAt == nil && o.Name == name && o.ID != id {
			return fmt.Errorf("%w: name: %q is taken by %s", ErrInvalid, name, o.ID)
		}
	}
	return nil
}

// Update changes a key with edit and installs it at once.
func (s *Service) Update(ctx context.Context, id string, edit func(*Key) error) (KeyView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.load(ctx, id)
	if err != nil {
		return KeyView{}, err
	}
	if err := edit(&k); err != nil {
		return KeyView{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := k.Validate(); err != nil {
		return KeyView{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := s.uniqueName(ctx, k.Name, k.ID); err != nil {
		return KeyView{}, err
	}
	if err := s.opts.Store.UpdateKey(ctx, &k); err != nil {
		return KeyView{}, fmt.Errorf("store key: %w", err)
	}
	if err := s.reload(ctx); err != nil {
		return KeyView{}, err
	}
	return s.view(ctx, k), nil
}

func (s *Service) load(ctx context.Context, id string) (Key, error) {
	keys, err := s.opts.Store.Keys(ctx)
	if err != nil {
		return Key{}, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return Key{}, ErrNotFound
}

// Revoke refuses the key from the next request on.
func (s *Service) Revoke(ctx context.Context, id string) (KeyView, error) {
	return s.Update(ctx, id, func(k *Key) error {
		if k.RevokedAt == nil {
			now := time.Now().UTC().Truncate(time.Second)
			k.RevokedAt = &now
		}
		return nil
	})
}

// Rotate gives the key a new secret; the old one stays valid for grace.
func (s *Service) Rotate(ctx context.Context, id string, grace time.Duration) (string, KeyView, error) {
	secret, _, prefix, err := NewSecret()
	if err != nil {
		return "", KeyView{}, err
	}
	v, err := s.Update(ctx, id, func(k *Key) error {
		if k.RevokedAt != nil {
			return errors.New("the key is revoked")
		}
		k.OldHash, k.OldUntil = nil, nil
		if grace > 0 {
			old, until := k.Hash, time.Now().Add(grace).UTC()
			k.OldHash, k.OldUntil = &old, &until
		}
		k.Hash, k.Prefix = HashKey([]byte(secret)), prefix
		return nil
	})
	return secret, v, err
}

// Reset sets the current period's spend back to zero.
func (s *Service) Reset(ctx context.Context, id string) (KeyView, error) {
	k, err := s.load(ctx, id)
	if err != nil {
		return KeyView{}, err
	}
	if err := s.opts.Store.ResetSpend(ctx, id); err != nil {
		return KeyView{}, err
	}
	if s.opts.Shared != nil && k.Budget.Period != "" {
		if err := s.opts.Shared.Reset(ctx, id, k.Budget.Period); err != nil {
			return KeyView{}, err
		}
	}
	if e := s.table.ByID(id); e != nil {
		e.c.reset()
	}
	return s.view(ctx, k), nil
}

// Usage aggregates usage.
func (s *Service) Usage(ctx context.Context, q Query) ([]Row, error) {
	return s.opts.Store.Aggregate(ctx, q)
}

// Records lists usage records.
func (s *Service) Records(ctx context.Context, q Query) ([]Record, error) {
	return s.opts.Store.Records(ctx, q)
}
