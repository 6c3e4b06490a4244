package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order, each once; a database records the ones
// it has in schema_migrations. Append only: never edit a released one.
var migrations = []string{
	// 1: keys, spend, usage.
	`CREATE TABLE keys (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		prefix TEXT NOT NULL,
		hash TEXT NOT NULL UNIQUE,
		labels TEXT NOT NULL,
		models TEXT NOT NULL,
		providers TEXT NOT NULL,
		rpm BIGINT NOT NULL,
		tpm BIGINT NOT NULL,
		budget_kind TEXT NOT NULL,
		budget_amount DOUBLE PRECISION NOT NULL,
		budget_period TEXT NOT NULL,
		expires_at BIGINT,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT,
		old_hash TEXT,
		old_until BIGINT
	);
	CREATE TABLE key_spend (
		key_id TEXT NOT NULL,
		period BIGINT NOT NULL,
		amount BIGINT NOT NULL,
		PRIMARY KEY (key_id, period)
	);
	CREATE TABLE usage (
		ts BIGINT NOT NULL,
		key_id TEXT NOT NULL,
		client TEXT NOT NULL,
		protocol TEXT NOT NULL,
		provider TEXT NOT NULL,
		account TEXT NOT NULL,
		model TEXT NOT NULL,
		status INTEGER NOT NULL,
		stream INTEGER NOT NULL,
		input BIGINT NOT NULL,
		output BIGINT NOT NULL,
		cached BIGINT NOT NULL,
		reasoning BIGINT NOT NULL,
		cost DOUBLE PRECISION NOT NULL,
		latency_us BIGINT NOT NULL,
		ttft_us BIGINT NOT NULL
	);
	CREATE INDEX usage_ts ON usage (ts);
	CREATE INDEX usage_key_ts ON usage (key_id, ts)`,
}

// migrate brings the schema to the newest version in one transaction (on
// PostgreSQL under an advisory lock, so instances starting together do not
// race).
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7316001)`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if int(have.Int64) > len(migrations) {
		return fmt.Errorf("migrate: the database is at schema version %d, newer than this binary's %d", have.Int64, len(migrations))
	}
	for v := int(have.Int64) + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, s.bind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, time.Now().Unix()); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// Version is the schema version the database is at.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}
