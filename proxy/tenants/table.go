package tenants

import (
	"sync"
	"sync/atomic"
	"time"
)

// Entry is a key as the request path sees it: the key, its allow-lists as
// sets, and its counters. Entries are built when the table is replaced and
// never change after; the counters are carried over from the previous
// table by key id, so an edit does not reset a key's minute or budget.
type Entry struct {
	Key       *Key
	models    map[string]bool
	providers map[string]bool
	expires   int64 // unix nanoseconds, 0: never
	c         *Counters
	// Ext is the owner's own object for this entry (the proxy's client),
	// made once per table so that a lookup allocates nothing.
	Ext any
}

// AllowsModel reports whether the key may ask for model (a public name).
func (e *Entry) AllowsModel(model []byte) bool {
	return e.models == nil || e.models[string(model)]
}

// AllowsProvider reports whether the key may be routed to provider.
func (e *Entry) AllowsProvider(name string) bool {
	return e.providers == nil || e.providers[name]
}

// Counters are what the entry has used; see limits.go.
func (e *Entry) Counters() *Counters { return e.c }

// Table maps key hashes to entries. Lookups take no lock: the map is
// replaced whole (copy on write) when keys change.
type Table struct {
	mu   sync.Mutex // serialises Replace
	byID map[string]*Entry
	m    atomic.Pointer[map[Hash]*Entry]
	wrap func(*Entry) any
}

// NewTable returns an empty table; wrap, if set, makes each entry's Ext.
func NewTable(wrap func(*Entry) any) *Table {
	t := &Table{byID: map[string]*Entry{}, wrap: wrap}
	empty := map[Hash]*Entry{}
	t.m.Store(&empty)
	return t
}

// Lookup returns the active entry whose hash is h, or nil. It does not
// allocate. A revoked or expired key is not found.
func (t *Table) Lookup(h Hash, now time.Time) *Entry {
	e := (*t.m.Load())[h]
	if e == nil || (e.expires != 0 && now.UnixNano() >= e.expires) {
		return nil
	}
	return e
}

// Len is the number of usable hashes.
func (t *Table) Len() int { return len(*t.m.Load()) }

// ByID returns the entry of a key id (revoked keys are not kept).
func (t *Table) ByID(id string) *Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

// Replace installs keys (revoked ones are left out), keeping the counters
// of keys already known.
func (t *Table) Replace(keys []Key, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[Hash]*Entry, len(keys))
	byID := make(map[string]*Entry, len(keys))
	for i := range keys {
		k := &keys[i]
		if k.RevokedAt != nil {
			continue
		}
		e := &Entry{Key: k, models: set(k.Models), providers: set(k.Providers)}
		if k.ExpiresAt != nil {
			e.expires = k.ExpiresAt.UnixNano()
		}
		if old := t.byID[k.ID]; old != nil {
			e.c = old.c
		} else {
			e.c = &Counters{}
		}
		e.c.configure(k)
		if t.wrap != nil {
			e.Ext = t.wrap(e)
		}
		m[k.Hash] = e
		if k.OldHash != nil && k.OldUntil != nil && now.Before(*k.OldUntil) {
			m[*k.OldHash] = e
		}
		byID[k.ID] = e
	}
	t.byID = byID
	t.m.Store(&m)
}

// Entries returns the entries by id (for flushing counters).
func (t *Table) Entries() map[string]*Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]*Entry, len(t.byID))
	for id, e := range t.byID {
		out[id] = e
	}
	return out
}

func set(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}
