package admission

import "testing"

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
