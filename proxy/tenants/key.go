package tenants

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyPrefix starts every virtual key, so that a leaked one is recognisable
// (and secret scanners can be taught it).
const KeyPrefix = "sk-px-"

// Hash is the SHA-256 of a presented key: what the store and the table keep.
type Hash [sha256.Size]byte

// HashKey hashes a presented key. It does not allocate.
func HashKey(key []byte) Hash { return sha256.Sum256(key) }

// String renders the hash as hex, for the store.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash stored as hex.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("key hash %q is not %d hex bytes", s, len(h))
	}
	copy(h[:], b)
	return h, nil
}

// Budget kinds and periods.
const (
	BudgetTokens = "tokens"
	BudgetUSD    = "usd"
	PeriodDay    = "day"
	PeriodMonth  = "month"
)

// Budget is what a key may spend per period; Amount 0 is no budget.
type Budget struct {
	Kind   string  `json:"kind"`
	Amount float64 `json:"amount"`
	Period string  `json:"period"`
}

// Key is a virtual key as stored: everything but the key itself.
type Key struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Prefix    string            `json:"prefix"`
	Hash      Hash              `json:"-"`
	Labels    map[string]string `json:"labels"`
	Models    []string          `json:"models"`
	Providers []string          `json:"providers"`
	RPM       int64             `json:"rpm"`
	TPM       int64             `json:"tpm"`
	Budget    Budget            `json:"budget"`
	ExpiresAt *time.Time        `json:"expires_at"`
	CreatedAt time.Time         `json:"created_at"`
	RevokedAt *time.Time        `json:"revoked_at"`
	// OldHash stays valid until OldUntil after a rotation with grace.
	OldHash  *Hash      `json:"-"`
	OldUntil *time.Time `json:"-"`
}

// Active reports whether the key may be used at now.
func (k *Key) Active(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// Validate checks the fields an operator sets.
func (k *Key) Validate() error {
	switch {
	case strings.TrimSpace(k.Name) == "" || len(k.Name) > 100:
		return errors.New("name: required, at most 100 characters")
	case k.RPM < 0 || k.TPM < 0:
		return errors.New("rpm, tpm: must not be negative")
	case k.Budget.Amount < 0:
		return errors.New("budget.amount: must not be negative")
	}
	if k.Budget.Amount > 0 {
		if k.Budget.Kind != BudgetTokens && k.Budget.Kind != BudgetUSD {
			return errors.New(`budget.kind: "tokens" or "usd"`)
		}
		if k.Budget.Period != PeriodDay && k.Budget.Period != PeriodMonth {
			return errors.New(`budget.period: "day" or "month"`)
		}
	}
	if len(k.Labels) > 32 || len(k.Models) > 1000 || len(k.Providers) > 1000 {
		return errors.New("labels (32), models and providers (1000): too many")
	}
	return nil
}

// NewSecret makes a key and its id: 32 random bytes, base64url, after
// KeyPrefix. The id names the key in the API and in usage; the prefix
// (shown in lists) lets an operator tell keys apart without the secret.
func NewSecret() (secret, id, prefix string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", "", fmt.Errorf("random key: %w", err)
	}
	secret = KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", "", "", fmt.Errorf("random id: %w", err)
	}
	id = "vk_" + hex.EncodeToString(r[:])
	return secret, id, secret[:len(KeyPrefix)+6], nil
}

// PeriodStart is the start of the budget period holding now (UTC calendar).
func PeriodStart(period string, now time.Time) time.Time {
	now = now.UTC()
	if period == PeriodDay {
		return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	}
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// PeriodEnd is when the period holding now ends.
func PeriodEnd(period string, now time.Time) time.Time {
	s := PeriodStart(period, now)
	if period == PeriodDay {
		return s.AddDate(0, 0, 1)
	}
	return s.AddDate(0, 1, 0)
}
