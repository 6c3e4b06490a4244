package cache

import (
	"testing"
	"time"
)

func key(i byte) Key { var k Key; k[0] = i; return k }

func TestMemoryLRUEvictsLeastRecentlyUsedUnderBothBounds(t *testing.T) {
	tests := []struct {
		name       string
		maxBytes   int64
		maxEntries int
		put        []byte // keys put, in order, 100-byte values
		get        []byte // keys read after the puts (refreshing them)
		then       byte   // one more key put
		kept, gone []byte
	}{
		{name: "entries", maxBytes: 1 << 20, maxEntries: 3, put: []byte{1, 2, 3}, get: []byte{1}, then: 4,
			kept: []byte{1, 3, 4}, gone: []byte{2}},
		{name: "bytes", maxBytes: 3 * (100 + entryOverhead), maxEntries: 100, put: []byte{1, 2, 3}, get: []byte{2, 1}, then: 4,
			kept: []byte{1, 2, 4}, gone: []byte{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(tc.maxBytes, tc.maxEntries)
			for _, k := range tc.put {
				m.Put(key(k), make([]byte, 100), time.Minute)
			}
			for _, k := range tc.get {
				if _, ok := m.Get(key(k)); !ok {
					t.Fatalf("key %d missing before the bound was reached", k)
				}
			}
			m.Put(key(tc.then), make([]byte, 100), time.Minute)
			for _, k := range tc.kept {
				if _, ok := m.Get(key(k)); !ok {
					t.Errorf("key %d evicted, want kept", k)
				}
			}
			for _, k := range tc.gone {
				if _, ok := m.Get(key(k)); ok {
					t.Errorf("key %d kept, want evicted (least recently used)", k)
				}
			}
			st := m.Stats()
			if st.Entries != 3 || st.Bytes != 3*(100+entryOverhead) || st.Evictions != 1 {
				t.Errorf("stats = %+v, want 3 entries, %d bytes, 1 eviction", st, 3*(100+entryOverhead))
			}
		})
	}
}

func TestMemoryExpiresAndRefusesOversize(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemory(1000, 10)
	m.SetClock(func() time.Time { return now })
	m.Put(key(1), []byte("a"), time.Second)
	if _, ok := m.Get(key(1)); !ok {
		t.Fatal("fresh entry missing")
	}
	now = now.Add(time.Second)
	if _, ok := m.Get(key(1)); ok {
		t.Fatal("entry served at its expiry")
	}
	if st := m.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("expired entry still counted: %+v", st)
	}
	m.Put(key(2), make([]byte, 1000), time.Minute) // with the overhead, over the bound
	if _, ok := m.Get(key(2)); ok {
		t.Fatal("an entry larger than the whole bound was stored")
	}
	m.Put(key(3), []byte("x"), time.Minute)
	m.Put(key(3), []byte("yy"), time.Minute)
	if v, _ := m.Get(key(3)); string(v) != "yy" {
		t.Fatalf("replaced entry = %q", v)
	}
	if st := m.Stats(); st.Entries != 1 || st.Bytes != 2+entryOverhead {
		t.Fatalf("stats after replace = %+v", st)
	}
}
