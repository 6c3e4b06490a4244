package accounts

import (
	"sync"
	"time"
)

// Quota is one limit an upstream reports for an account: a model's
// bucket, a usage window, a monthly allowance. Every subscription provider
// reports its limits in this one shape, so that `proxy accounts` and
// /health show them alike.
type Quota struct {
	// Name says which limit: a model id, "primary window", "premium_interactions".
	Name string `json:"name"`
	// RemainingFraction is what is left, from 1 (untouched) to 0 (used
	// up); it can go below 0 where the upstream counts overage.
	RemainingFraction float64 `json:"remaining_fraction"`
	// Remaining and Limit are counts, where the upstream gives them.
	Remaining float64 `json:"remaining,omitempty"`
	Limit     float64 `json:"limit,omitempty"`
	// Unlimited: the plan has no cap on this.
	Unlimited bool `json:"unlimited,omitempty"`
	// ResetAt is when the limit is restored (zero when not reported).
	ResetAt time.Time `json:"reset_at,omitzero"`
}

// Exhausted reports whether nothing is left of q.
func (q Quota) Exhausted() bool { return !q.Unlimited && q.RemainingFraction <= 0 }

// QuotaSource asks an upstream for an account's limits. It is called in
// the background, never on a request's path.
type QuotaSource interface {
	FetchQuota(a *Account) ([]Quota, error)
}

// quotaState is the last quota report of an account.
type quotaState struct {
	quotas []Quota
	at     time.Time
	err    string
}

// SetQuota records a quota report (err when the upstream could not be
// asked; the previous figures are kept then, marked by the error).
func (a *Account) SetQuota(q []Quota, err error, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.quota.at = at
	if err != nil {
		a.quota.err = err.Error()
		return
	}
	a.quota.quotas, a.quota.err = q, ""
}

// Quotas is the account's last reported limits.
func (a *Account) Quotas() []Quota {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.quota.quotas
}

// RefreshQuota asks src for every account's limits now (the on-demand
// refresh of `proxy accounts --refresh`, and each background round).
func RefreshQuota(accts []*Account, src QuotaSource, now func() time.Time) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, quotaParallel)
	for _, a := range accts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			q, err := src.FetchQuota(a)
			a.SetQuota(q, err, now())
		}()
	}
	wg.Wait()
}

// quotaParallel bounds the accounts asked at once: a pool of a hundred
// accounts must not send a hundred calls in the same instant.
const quotaParallel = 4

// WatchQuota asks src for the accounts' limits at once and then every
// interval, in the background, until the set is closed; an interval of 0
// or less watches nothing.
func (s *Set) WatchQuota(src QuotaSource, interval time.Duration) {
	if interval <= 0 {
		return
	}
	list := s.list()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			RefreshQuota(list, src, time.Now)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	s.addStop(func() {
		once.Do(func() { close(done) })
		<-finished
	})
}
