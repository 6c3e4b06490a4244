package cache

import (
	"sync"
	"time"
)

// entryOverhead is what one entry costs besides its value: the list node,
// its map slot and the key, counted against the byte bound so that many
// tiny entries cannot exceed it.
const entryOverhead = 128

// Memory is the in-process store: a map and a least-recently-used list,
// bounded in bytes and in entries. Expired entries are dropped when met
// and counted until then; the bounds hold either way.
type Memory struct {
	mu         sync.Mutex
	items      map[Key]*node
	head, tail *node // head is the most recently used
	bytes      int64
	maxBytes   int64
	maxEntries int
	evictions  int64
	now        func() time.Time
}

type node struct {
	key        Key
	value      []byte
	expires    time.Time
	prev, next *node
}

// NewMemory returns an empty store holding at most maxBytes (values plus
// a fixed overhead per entry) in at most maxEntries entries.
func NewMemory(maxBytes int64, maxEntries int) *Memory {
	return &Memory{items: map[Key]*node{}, maxBytes: maxBytes, maxEntries: maxEntries, now: time.Now}
}

// SetClock replaces the store's clock (for tests of expiry).
func (m *Memory) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

func (m *Memory) Get(k Key) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.items[k]
	if n == nil {
		return nil, false
	}
	if !m.now().Before(n.expires) {
		m.remove(n)
		return nil, false
	}
	m.unlink(n)
	m.pushFront(n)
	return n.value, true
}

func (m *Memory) Put(k Key, value []byte, ttl time.Duration) {
	size := int64(len(value)) + entryOverhead
	if size > m.maxBytes || ttl <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.items[k]; old != nil {
		m.remove(old)
	}
	n := &node{key: k, value: value, expires: m.now().Add(ttl)}
	m.items[k] = n
	m.pushFront(n)
	m.bytes += size
	for m.bytes > m.maxBytes || len(m.items) > m.maxEntries {
		m.remove(m.tail)
		m.evictions++
	}
}

func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Entries: int64(len(m.items)), Bytes: m.bytes, Evictions: m.evictions}
}

// Close drops every entry.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items = map[Key]*node{}
	m.head, m.tail, m.bytes = nil, nil, 0
	return nil
}

func (m *Memory) remove(n *node) {
	m.unlink(n)
	delete(m.items, n.key)
	m.bytes -= int64(len(n.value)) + entryOverhead
}

func (m *Memory) unlink(n *node) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		m.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		m.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (m *Memory) pushFront(n *node) {
	n.next = m.head
	if m.head != nil {
		m.head.prev = n
	}
	m.head = n
	if m.tail == nil {
		m.tail = n
	}
}
