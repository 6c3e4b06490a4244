package tenants

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is a key id the store does not hold.
var ErrNotFound = errors.New("no such key")

// Store keeps keys, budget spend and usage records (sqlstore implements it
// on SQLite and PostgreSQL).
type Store interface {
	CreateKey(ctx context.Context, k *Key) error
	// UpdateKey writes every field of k over the row with k.ID.
	UpdateKey(ctx context.Context, k *Key) error
	Keys(ctx context.Context) ([]Key, error)
	// AddSpend adds delta to key id's spend in the period starting at
	// period (unix seconds) and returns the new total of all instances.
	AddSpend(ctx context.Context, id string, period, delta int64) (int64, error)
	ResetSpend(ctx context.Context, id string) error
	InsertUsage(ctx context.Context, batch []Record) error
	Aggregate(ctx context.Context, q Query) ([]Row, error)
	Records(ctx context.Context, q Query) ([]Record, error)
	// DeleteUsageBefore removes records older than t (retention).
	DeleteUsageBefore(ctx context.Context, t time.Time) (int64, error)
	Close() error
}

// Shared counts limits and budgets across instances (redislimit
// implements it on Redis, whose clock every instance then shares).
type Shared interface {
	// Admit counts one request of key id against rpm and checks tpm and
	// the period's budget (0: none), all atomically.
	Admit(ctx context.Context, id string, rpm, tpm, budget int64, period string) (Decision, error)
	// Spend adds a finished request's tokens and budget units.
	Spend(ctx context.Context, id string, tokens, units int64, period string) error
	// Spent is the current period's spend in budget units.
	Spent(ctx context.Context, id, period string) (int64, error)
	Reset(ctx context.Context, id, period string) error
}

// Record is one request's usage.
type Record struct {
	Time      time.Time     `json:"time"`
	KeyID     string        `json:"key_id"`
	Client    string        `json:"client"`
	Protocol  string        `json:"protocol"`
	Provider  string        `json:"provider"`
	Account   string        `json:"account"`
	Model     string        `json:"model"`
	Status    int           `json:"status"`
	Stream    bool          `json:"stream"`
	Input     int64         `json:"input_tokens"`
	Output    int64         `json:"output_tokens"`
	Cached    int64         `json:"cached_tokens"`
	Reasoning int64         `json:"reasoning_tokens"`
	CostUSD   float64       `json:"cost_usd"`
	Latency   time.Duration `json:"-"`
	TTFT      time.Duration `json:"-"`
}

// Query selects usage: a period, filters, and for aggregates a bucket and
// a grouping.
type Query struct {
	From, To               time.Time
	KeyID, Model, Provider string
	Bucket                 string // minute, hour, day
	GroupBy                string // key, model, provider, client or ""
	Limit                  int
	Before                 time.Time
}

// Row is one aggregate: a time bucket and a group's totals.
type Row struct {
	Time         time.Time `json:"time"`
	Group        string    `json:"group"`
	Requests     int64     `json:"requests"`
	Errors       int64     `json:"errors"`
	Input        int64     `json:"input_tokens"`
	Output       int64     `json:"output_tokens"`
	Cached       int64     `json:"cached_tokens"`
	Reasoning    int64     `json:"reasoning_tokens"`
	CostUSD      float64   `json:"cost_usd"`
	LatencyMSAvg float64   `json:"latency_ms_avg"`
}

// BucketSeconds is the length of a bucket name, or 0 for an unknown one.
func BucketSeconds(b string) int64 {
	switch b {
	case "minute":
		return 60
	case "hour", "":
		return 3600
	case "day":
		return 86400
	}
	return 0
}

// GroupColumns are the groupings a query may ask for, by column.
var GroupColumns = map[string]string{"": "''", "key": "key_id", "model": "model", "provider": "provider", "client": "client"}
