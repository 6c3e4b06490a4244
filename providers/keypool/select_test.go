package keypool

import (
	"errors"
	"testing"
)

func TestAcquireSpreadsSequentialLoadByWeight(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		rounds  int
		want    []int
	}{
		{"equal weights round-robin", []int{1, 1, 1}, 30, []int{10, 10, 10}},
		{"zero weight means one", []int{0, 1}, 10, []int{5, 5}},
		{"two to one", []int{2, 1}, 30, []int{20, 10}},
		{"three one one", []int{3, 1, 1}, 50, []int{30, 10, 10}},
		{"single key", []int{5}, 7, []int{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			ks := keysN(len(tc.weights))
			for i, w := range tc.weights {
				ks[i].Weight = w
			}
			p := testPool(ks, Options{}, c)
			got := make([]int, len(ks))
			for range tc.rounds {
				l, err := p.Acquire(c.Now())
				if err != nil {
					t.Fatal(err)
				}
				got[l.Index()]++
				l.Release(Outcome{Kind: OK})
			}
			for i := range got {
				// Weighted virtual time may shift one pick between keys.
				if d := got[i] - tc.want[i]; d < -1 || d > 1 {
					t.Fatalf("distribution %v, want %v (±1)", got, tc.want)
				}
			}
		})
	}
}

func TestAcquirePrefersLeastInFlightPerWeight(t *testing.T) {
	tests := []struct {
		name     string
		weights  []int
		holds    []int // leases held open per key before the probe
		wantPick int
	}{
		{"fewest in flight", []int{1, 1, 1}, []int{2, 0, 1}, 1},
		{"weight doubles capacity", []int{2, 1}, []int{1, 1}, 0},
		{"weight not enough", []int{2, 1}, []int{3, 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			ks := keysN(len(tc.weights))
			for i, w := range tc.weights {
				ks[i].Weight = w
			}
			p := testPool(ks, Options{}, c)
			var held []Lease
			for i, h := range tc.holds {
				for range h {
					others := make([]int, 0, len(ks))
					for j := range ks {
						if j != i {
							others = append(others, j)
						}
					}
					l, err := p.Acquire(c.Now(), others...)
					if err != nil || l.Index() != i {
						t.Fatalf("setup: got key %d err %v, want %d", l.Index(), err, i)
					}
					held = append(held, l)
				}
			}
			l, err := p.Acquire(c.Now())
			if err != nil {
				t.Fatal(err)
			}
			if l.Index() != tc.wantPick {
				t.Fatalf("picked %d, want %d", l.Index(), tc.wantPick)
			}
			l.Release(Outcome{Kind: OK})
			for i := range held {
				held[i].Release(Outcome{Kind: OK})
			}
			for _, ks := range p.Snapshot() {
				if ks.InFlight != 0 {
					t.Fatalf("%s in flight %d after release", ks.Label, ks.InFlight)
				}
			}
		})
	}
}

func TestAcquireHonoursMaxConcurrentAndExclude(t *testing.T) {
	c := newClock()
	p := testPool([]Key{{Secret: "a", MaxConcurrent: 2}, {Secret: "b", MaxConcurrent: 1}}, Options{}, c)
	var held []Lease
	for range 3 {
		l, err := p.Acquire(c.Now())
		if err != nil {
			t.Fatalf("acquire within capacity: %v", err)
		}
		held = append(held, l)
	}
	_, err := p.Acquire(c.Now())
	var nk *NoKeyError
	if !errors.As(err, &nk) || !errors.Is(err, ErrNoKey) {
		t.Fatalf("over capacity: err %v, want NoKeyError", err)
	}
	if nk.Busy != 2 || !nk.Until.IsZero() {
		t.Fatalf("no-key detail %+v, want 2 busy, no cooldown", nk)
	}
	held[0].Release(Outcome{Kind: OK})
	held[0].Release(Outcome{Kind: OK}) // second release of the same lease is a no-op
	if held[0].Valid() {
		t.Fatal("released lease still valid")
	}
	l, err := p.Acquire(c.Now())
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if _, err := p.Acquire(c.Now(), 0, 1); !errors.Is(err, ErrNoKey) {
		t.Fatalf("all excluded: err %v", err)
	}
	l.Release(Outcome{Kind: OK})
	for i := 1; i < len(held); i++ {
		held[i].Release(Outcome{Kind: Ignored})
	}
	l, err = p.Acquire(c.Now(), 0)
	if err != nil || l.Index() != 1 || l.Secret() != "b" || l.Label() != "key#1" {
		t.Fatalf("exclude 0: got %d %q %q %v", l.Index(), l.Secret(), l.Label(), err)
	}
	l.Release(Outcome{Kind: OK})
}

// A heavy key at its limit must not hide a light key that has room.
func TestAcquireSkipsFullKeyThatScoresBest(t *testing.T) {
	c := newClock()
	p := testPool([]Key{{Secret: "heavy", Weight: 10, MaxConcurrent: 1}, {Secret: "light", Weight: 1, MaxConcurrent: 3}}, Options{}, c)
	heavy, err := p.Acquire(c.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l, err := p.Acquire(c.Now())
		if err != nil || l.Index() != 1 {
			t.Fatalf("acquire %d: got %d %v, want the light key", i, l.Index(), err)
		}
	}
	heavy.Release(Outcome{Kind: OK})
}

func TestEmptyPool(t *testing.T) {
	p := New(nil, Options{})
	if _, err := p.Acquire(newClock().Now()); !errors.Is(err, ErrNoKey) {
		t.Fatalf("empty pool: %v", err)
	}
	if p.Len() != 0 || len(p.Snapshot()) != 0 {
		t.Fatal("empty pool reports keys")
	}
}
