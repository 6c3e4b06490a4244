package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	// Drivers: "sqlite" (modernc, pure Go) and "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/llmproxy/proxy/proxy/tenants"
)

// Store is a tenants.Store on a SQL database.
type Store struct {
	db       *sql.DB
	postgres bool
}

// Open opens driver ("sqlite" or "postgres") at dsn (a file path, or a
// postgres:// URL) and migrates the schema.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	var s Store
	var err error
	switch driver {
	case "sqlite", "":
		s.db, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err == nil {
			// One writer at a time is SQLite's rule; a single connection
			// makes it ours too (no SQLITE_BUSY between our own goroutines).
			s.db.SetMaxOpenConns(1)
		}
	case "postgres":
		s.postgres = true
		s.db, err = sql.Open("pgx", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(8)
		}
	default:
		return nil, fmt.Errorf("store.driver %q: sqlite or postgres", driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", driver, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("open %s store: %w", driver, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return &s, nil
}

func sqliteDSN(path string) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// bind turns ? placeholders into PostgreSQL's $n.
func (s *Store) bind(q string) string {
	if !s.postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

const keyColumns = `id, name, prefix, hash, labels, models, providers, rpm, tpm, budget_kind, budget_amount, budget_period, expires_at, created_at, revoked_at, old_hash, old_until`

func keyArgs(k *tenants.Key) []any {
	labels, _ := json.Marshal(orEmptyMap(k.Labels))
	models, _ := json.Marshal(orEmpty(k.Models))
	provs, _ := json.Marshal(orEmpty(k.Providers))
	var oldHash sql.NullString
	if k.OldHash != nil {
		oldHash = sql.NullString{String: k.OldHash.String(), Valid: true}
	}
	return []any{k.ID, k.Name, k.Prefix, k.Hash.String(), string(labels), string(models), string(provs),
		k.RPM, k.TPM, k.Budget.Kind, k.Budget.Amount, k.Budget.Period,
		unixOrNull(k.ExpiresAt), k.CreatedAt.Unix(), unixOrNull(k.RevokedAt), oldHash, unixOrNull(k.OldUntil)}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func unixOrNull(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}

func timeOrNil(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.Unix(v.Int64, 0).UTC()
	return &t
}

// CreateKey inserts k.
func (s *Store) CreateKey(ctx context.Context, k *tenants.Key) error {
	_, err := s.db.ExecContext(ctx, s.bind(`INSERT INTO keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), keyArgs(k)...)
	if err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	return nil
}

// UpdateKey writes k over its row.
func (s *Store) UpdateKey(ctx context.Context, k *tenants.Key) error {
	args := keyArgs(k)
	res, err := s.db.ExecContext(ctx, s.bind(`UPDATE keys SET name = ?, prefix = ?, hash = ?, labels = ?, models = ?, providers = ?,
		rpm = ?, tpm = ?, budget_kind = ?, budget_amount = ?, budget_period = ?, expires_at = ?, created_at = ?,
		revoked_at = ?, old_hash = ?, old_until = ? WHERE id = ?`), append(args[1:], args[0])...)
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tenants.ErrNotFound
	}
	return nil
}

// Keys returns every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]tenants.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer rows.Close()
	var out []tenants.Key
	for rows.Next() {
		var k tenants.Key
		var hash, labels, models, provs string
		var expires, created, revoked, oldUntil sql.NullInt64
		var oldHash sql.NullString
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &hash, &labels, &models, &provs, &k.RPM, &k.TPM,
			&k.Budget.Kind, &k.Budget.Amount, &k.Budget.Period, &expires, &created, &revoked, &oldHash, &oldUntil); err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		if k.Hash, err = tenants.ParseHash(hash); err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		if oldHash.Valid {
			h, err := tenants.ParseHash(oldHash.String)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", k.ID, err)
			}
			k.OldHash = &h
		}
		if err := errors.Join(json.Unmarshal([]byte(labels), &k.Labels), json.Unmarshal([]byte(models), &k.Models),
			json.Unmarshal([]byte(provs), &k.Providers)); err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		k.ExpiresAt, k.RevokedAt, k.OldUntil = timeOrNil(expires), timeOrNil(revoked), timeOrNil(oldUntil)
		k.CreatedAt = time.Unix(created.Int64, 0).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddSpend adds delta to a key's spend in a period and returns the total.
func (s *Store) AddSpend(ctx context.Context, id string, period, delta int64) (int64, error) {
	var total int64
	err := s.db.QueryRowContext(ctx, s.bind(`INSERT INTO key_spend (key_id, period, amount) VALUES (?, ?, ?)
		ON CONFLICT (key_id, period) DO UPDATE SET amount = key_spend.amount + excluded.amount RETURNING amount`),
		id, period, delta).Scan(&total)
	if err != nil {
		return 0, fmt.Errorf("add spend of %s: %w", id, err)
	}
	return total, nil
}

// ResetSpend forgets a key's spend.
func (s *Store) ResetSpend(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.bind(`DELETE FROM key_spend WHERE key_id = ?`), id); err != nil {
		return fmt.Errorf("reset spend of %s: %w", id, err)
	}
	return nil
}

// InsertUsage writes a batch in one transaction.
func (s *Store) InsertUsage(ctx context.Context, batch []tenants.Record) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write usage: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	st, err := tx.PrepareContext(ctx, s.bind(`INSERT INTO usage (ts, key_id, client, protocol, provider, account, model, status, stream,
		input, output, cached, reasoning, cost, latency_us, ttft_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("write usage: %w", err)
	}
	defer st.Close()
	for i := range batch {
		r := &batch[i]
		stream := 0
		if r.Stream {
			stream = 1
		}
		if _, err := st.ExecContext(ctx, r.Time.UnixMicro(), r.KeyID, r.Client, r.Protocol, r.Provider, r.Account, r.Model,
			r.Status, stream, r.Input, r.Output, r.Cached, r.Reasoning, r.CostUSD, r.Latency.Microseconds(), r.TTFT.Microseconds()); err != nil {
			return fmt.Errorf("write usage: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write usage: %w", err)
	}
	return nil
}

// where renders a query's filters.
func where(q tenants.Query) (string, []any) {
	conds := []string{"ts >= ?", "ts < ?"}
	args := []any{q.From.UnixMicro(), q.To.UnixMicro()}
	for _, f := range []struct{ col, v string }{{"key_id", q.KeyID}, {"model", q.Model}, {"provider", q.Provider}} {
		if f.v != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Aggregate sums usage per time bucket and group.
func (s *Store) Aggregate(ctx context.Context, q tenants.Query) ([]tenants.Row, error) {
	col, ok := tenants.GroupColumns[q.GroupBy]
	size := tenants.BucketSeconds(q.Bucket) * 1e6
	if !ok || size == 0 {
		return nil, fmt.Errorf("usage query: bad group_by %q or bucket %q", q.GroupBy, q.Bucket)
	}
	w, args := where(q)
	sqlText := `SELECT (ts / ?) * ?, ` + col + `, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END),
		CAST(SUM(input) AS BIGINT), CAST(SUM(output) AS BIGINT), CAST(SUM(cached) AS BIGINT), CAST(SUM(reasoning) AS BIGINT),
		CAST(SUM(cost) AS DOUBLE PRECISION), CAST(AVG(latency_us) AS DOUBLE PRECISION)
		FROM usage` + w + ` GROUP BY 1, 2 ORDER BY 1, 2`
	rows, err := s.db.QueryContext(ctx, s.bind(sqlText), append([]any{size, size}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("usage query: %w", err)
	}
	defer rows.Close()
	out := []tenants.Row{}
	for rows.Next() {
		var r tenants.Row
		var bucket int64
		var lat float64
		if err := rows.Scan(&bucket, &r.Group, &r.Requests, &r.Errors, &r.Input, &r.Output, &r.Cached, &r.Reasoning, &r.CostUSD, &lat); err != nil {
			return nil, fmt.Errorf("usage query: %w", err)
		}
		r.Time = time.UnixMicro(bucket).UTC()
		r.LatencyMSAvg = lat / 1000
		out = append(out, r)
	}
	return out, rows.Err()
}

// Records lists records newest first.
func (s *Store) Records(ctx context.Context, q tenants.Query) ([]tenants.Record, error) {
	w, args := where(q)
	if !q.Before.IsZero() {
		w += " AND ts < ?"
		args = append(args, q.Before.UnixMicro())
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT ts, key_id, client, protocol, provider, account, model, status, stream,
		input, output, cached, reasoning, cost, latency_us, ttft_us FROM usage`+w+` ORDER BY ts DESC LIMIT `+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("usage records: %w", err)
	}
	defer rows.Close()
	out := []tenants.Record{}
	for rows.Next() {
		var r tenants.Record
		var ts, lat, ttft int64
		var stream int
		if err := rows.Scan(&ts, &r.KeyID, &r.Client, &r.Protocol, &r.Provider, &r.Account, &r.Model, &r.Status, &stream,
			&r.Input, &r.Output, &r.Cached, &r.Reasoning, &r.CostUSD, &lat, &ttft); err != nil {
			return nil, fmt.Errorf("usage records: %w", err)
		}
		r.Time, r.Stream = time.UnixMicro(ts).UTC(), stream == 1
		r.Latency, r.TTFT = time.Duration(lat)*time.Microsecond, time.Duration(ttft)*time.Microsecond
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteUsageBefore removes records older than t.
func (s *Store) DeleteUsageBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.bind(`DELETE FROM usage WHERE ts < ?`), t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("usage retention: %w", err)
	}
	return res.RowsAffected()
}

var _ tenants.Store = (*Store)(nil)
