package retry

import (
	"testing"
	"time"
)

func BenchmarkAdmitRelease(b *testing.B) {
	l := NewLimiter(LimiterOptions{MaxRequests: 1 << 16, MaxStreams: 1 << 16})
	b.ReportAllocs()
	for b.Loop() {
		rel, err := l.Admit(true)
		if err != nil {
			b.Fatal(err)
		}
		rel()
	}
}

func BenchmarkProviderAcquireParallel(b *testing.B) {
	s := NewSem("p", SemOptions{Limit: 1 << 16})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rel, err := s.Acquire(nil)
			if err != nil {
				b.Fatal(err)
			}
			rel()
		}
	})
}

func BenchmarkRejection(b *testing.B) {
	s := NewSem("p", SemOptions{Limit: 1})
	hold, _ := s.Acquire(nil)
	defer hold()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Acquire(nil); err == nil {
			b.Fatal("admitted")
		}
	}
}

func BenchmarkPlanThreeAttempts(b *testing.B) {
	chain := []Target{{"a", "m"}, {"b", "m"}}
	pol := Policy{MaxAttempts: 3}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		pl := pol.NewPlan(now, chain, SharedRand{})
		for _, ok := pl.Next(now); ok; _, ok = pl.Next(now) {
			if !pl.Fail(Failure{Status: 503, Delivery: NothingSent}) {
				break
			}
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Classify(nil, 503)
	}
}
