package tenants

import (
	"math"
	"sync"
	"time"
)

// Verdict is the outcome of admitting a request.
type Verdict uint8

const (
	Admitted Verdict = iota
	// OverRate: requests or tokens per minute used up.
	OverRate
	// OverBudget: the period's budget is spent.
	OverBudget
	// Unavailable: the shared counter store is down and the limit fails closed.
	Unavailable
)

// Decision is a verdict, and for a refusal, when to retry.
type Decision struct {
	Verdict    Verdict
	RetryAfter time.Duration
	// What names the limit, for the client's message ("requests per minute").
	What string
}

// microUSD is the unit budgets in money are counted in.
const microUSD = 1e6

// Counters count one key's use: the current minute's requests and tokens,
// and the budget period's spend (tokens, or micro-dollars) — in memory,
// behind one mutex per key (uncontended it costs tens of nanoseconds and
// no allocation).
type Counters struct {
	mu        sync.Mutex
	rpm, tpm  int64
	budget    int64 // tokens or micro-USD; 0: none
	budgetUSD bool
	period    string

	minute     int64 // unix minute the counts below belong to
	reqs, toks int64
	periodAt   int64 // unix seconds the spend below belongs to
	spent      int64
	// unflushed is spend not yet added to the store's total.
	unflushed int64
}

func (c *Counters) configure(k *Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rpm, c.tpm, c.period = k.RPM, k.TPM, k.Budget.Period
	c.budget, c.budgetUSD = 0, k.Budget.Kind == BudgetUSD
	if k.Budget.Amount > 0 {
		if c.budgetUSD {
			c.budget = int64(math.Round(k.Budget.Amount * microUSD))
		} else {
			c.budget = int64(k.Budget.Amount)
		}
	}
}

// limits is a snapshot of a key's configured limits; a reload may change
// them while requests read them, so they are read under the lock.
type limits struct {
	rpm, tpm, budget int64
	budgetUSD        bool
	period           string
}

func (c *Counters) limits() limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return limits{rpm: c.rpm, tpm: c.tpm, budget: c.budget, budgetUSD: c.budgetUSD, period: c.period}
}

// roll moves the windows to now.
func (c *Counters) roll(now time.Time) {
	if m := now.Unix() / 60; m != c.minute {
		c.minute, c.reqs, c.toks = m, 0, 0
	}
	if c.budget > 0 {
		if p := PeriodStart(c.period, now).Unix(); p != c.periodAt {
			c.periodAt, c.spent = p, 0
		}
	}
}

// Admit counts one request against the key's limits, or refuses it.
func (c *Counters) Admit(now time.Time) Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	if c.budget > 0 && c.spent >= c.budget {
		return Decision{Verdict: OverBudget, RetryAfter: PeriodEnd(c.period, now).Sub(now), What: "budget"}
	}
	if c.rpm > 0 && c.reqs >= c.rpm {
		return Decision{Verdict: OverRate, RetryAfter: untilNextMinute(now), What: "requests per minute"}
	}
	if c.tpm > 0 && c.toks >= c.tpm {
		return Decision{Verdict: OverRate, RetryAfter: untilNextMinute(now), What: "tokens per minute"}
	}
	c.reqs++
	return Decision{}
}

// Spend adds a finished request's tokens and cost.
func (c *Counters) Spend(now time.Time, tokens int64, costUSD float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	c.toks += tokens
	if c.budget > 0 {
		d := tokens
		if c.budgetUSD {
			d = int64(math.Round(costUSD * microUSD))
		}
		c.spent += d
		c.unflushed += d
	}
}

// Spent is the budget period's spend in the budget's unit (tokens or USD)
// and the period's start.
func (c *Counters) Spent(now time.Time) (float64, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	v := float64(c.spent)
	if c.budgetUSD {
		v /= microUSD
	}
	return v, time.Unix(c.periodAt, 0).UTC()
}

// takeUnflushed hands the spend not yet stored to a flush, with its period.
func (c *Counters) takeUnflushed() (int64, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.budget == 0 {
		return 0, 0, false
	}
	d := c.unflushed
	c.unflushed = 0
	return d, c.periodAt, true
}

// stored sets the spend to the store's total for period (all instances'
// flushes) plus what this instance counted since.
func (c *Counters) stored(period, total int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if period == c.periodAt {
		c.spent = total + c.unflushed
	}
}

// reset forgets the period's spend.
func (c *Counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spent, c.unflushed = 0, 0
}

func untilNextMinute(now time.Time) time.Duration {
	return now.Truncate(time.Minute).Add(time.Minute).Sub(now)
}
