package cache

import (
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/cache/redistest"
)

// waitGet polls until a background write landed (Put returns at once).
func waitGet(t *testing.T, s Store, k Key) ([]byte, bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if v, ok := s.Get(k); ok || time.Now().After(deadline) {
			return v, ok
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedisSharedBetweenStores(t *testing.T) {
	addr := redistest.Start(t)
	o := RedisOptions{Addr: addr, Prefix: "t:", Timeout: time.Second, MaxValue: 64}
	a, b := NewRedis(o), NewRedis(o)
	defer a.Close()
	defer b.Close()
	a.Put(key(1), []byte("answer"), time.Minute)
	if v, ok := waitGet(t, b, key(1)); !ok || string(v) != "answer" {
		t.Fatalf("the other store read %q, %v; want the answer", v, ok)
	}
	if _, ok := b.Get(key(2)); ok {
		t.Fatal("hit on a key nobody wrote")
	}
	a.Put(key(3), make([]byte, 65), time.Minute) // over MaxValue
	a.Put(key(4), []byte("short"), 1100*time.Millisecond)
	if _, ok := waitGet(t, b, key(4)); !ok {
		t.Fatal("short-lived entry never arrived")
	}
	if _, ok := b.Get(key(3)); ok {
		t.Fatal("a value over max_entry_bytes was stored")
	}
	time.Sleep(1200 * time.Millisecond) // Redis expires the key by its TTL
	if _, ok := b.Get(key(4)); ok {
		t.Fatal("entry served after its TTL")
	}
	if st := a.Stats(); st.Errors != 0 {
		t.Fatalf("errors talking to a healthy Redis: %+v", st)
	}
}

func TestRedisDownIsAMiss(t *testing.T) {
	s := NewRedis(RedisOptions{Addr: "127.0.0.1:1", Timeout: 100 * time.Millisecond})
	defer s.Close()
	if _, ok := s.Get(key(1)); ok {
		t.Fatal("hit from an unreachable Redis")
	}
	if st := s.Stats(); st.Errors != 1 {
		t.Fatalf("errors = %d, want 1", st.Errors)
	}
}
