// Package sqlstore keeps virtual keys, budget spend and usage records in
// SQL: an embedded SQLite file (modernc.org/sqlite, pure Go, so the binary
// stays cgo-free and static) by default, or PostgreSQL (pgx) when several
// instances share keys and usage. One set of statements serves both; the
// schema is versioned by numbered migrations applied at open.
package sqlstore
