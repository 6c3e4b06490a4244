// Package tenants holds virtual client keys and what they may spend: the
// in-memory key table the request path looks keys up in (by the SHA-256 of
// the presented key, never the key itself), per-key rate limits and
// budgets counted in memory (or in a shared Counter across instances),
// and the usage recorder that writes one record per request to a Store in
// the background, in batches, dropping and counting when the store cannot
// keep up.
package tenants
