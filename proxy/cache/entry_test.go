package cache

import (
	"bytes"
	"testing"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	e, err := Decode(EncodePlain([]byte("application/json"), []byte(`{"a":1}`)))
	if err != nil || e.Stream || string(e.ContentType) != "application/json" || string(e.Body) != `{"a":1}` {
		t.Fatalf("plain: %+v, %v", e, err)
	}
	start := time.Unix(0, 0)
	r := NewRecorder(1<<10, NewBudget(1<<20), start)
	events := []string{"data: 1\n\n", "data: 2\n\n", "", "data: [DONE]\n\n"}
	for i, ev := range events {
		r.Add([]byte(ev), start.Add(time.Duration(i+1)*250*time.Millisecond))
	}
	e, err = Decode(r.Encode([]byte("text/event-stream")))
	if err != nil || !e.Stream || e.Events.Len() != 3 {
		t.Fatalf("stream: %+v, %v", e, err)
	}
	if string(e.Payload) != "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n" {
		t.Fatalf("payload %q", e.Payload)
	}
	want := []struct {
		ev    string
		delay time.Duration
	}{{"data: 1\n\n", 250 * time.Millisecond}, {"data: 2\n\n", 250 * time.Millisecond}, {"data: [DONE]\n\n", 500 * time.Millisecond}}
	for i, w := range want {
		ev, d, ok := e.Events.Next()
		if !ok || string(ev) != w.ev || d != w.delay {
			t.Fatalf("event %d = %q after %v (%v), want %q after %v", i, ev, d, ok, w.ev, w.delay)
		}
	}
	if _, _, ok := e.Events.Next(); ok {
		t.Fatal("an event past the last")
	}
}

func TestRecorderDropsAStreamOverItsBoundOrTheBudget(t *testing.T) {
	budget := NewBudget(200)
	r := NewRecorder(64, budget, time.Now())
	for range 10 {
		r.Add(bytes.Repeat([]byte("x"), 10), time.Now())
	}
	if !r.Over || budget.Left() != 200 {
		t.Fatalf("a 100-byte stream in a 64-byte bound: over %v, budget left %d of 200", r.Over, budget.Left())
	}
	// Two recordings under way share the budget: the second is dropped.
	a, b := NewRecorder(1<<10, budget, time.Now()), NewRecorder(1<<10, budget, time.Now())
	a.Add(bytes.Repeat([]byte("a"), 100), time.Now())
	b.Add(bytes.Repeat([]byte("b"), 100), time.Now())
	if a.Over || !b.Over {
		t.Fatalf("first over %v, second over %v: want only the second dropped", a.Over, b.Over)
	}
	a.Release()
	if budget.Left() != 200 {
		t.Fatalf("budget left %d after both ended, want 200", budget.Left())
	}
}

func TestDecodeRefusesDamagedEntries(t *testing.T) {
	r := NewRecorder(1<<10, NewBudget(1<<20), time.Now())
	r.Add([]byte("data: 1\n\n"), time.Now())
	good := r.Encode([]byte("text/event-stream"))
	for _, b := range [][]byte{nil, {9, 0}, {entryVersion, 7}, good[:len(good)-1], append(append([]byte(nil), good...), 'x'), {entryVersion, kindPlain, 200}} {
		if _, err := Decode(b); err == nil {
			t.Errorf("Decode(%q) accepted a damaged entry", b)
		}
	}
}
