package breaker

import (
	"testing"
	"time"
)

func BenchmarkAllowDoneClosed(b *testing.B) {
	br := New(Options{})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		tk, _ := br.Allow(now)
		br.Done(tk, true)
	}
}

func BenchmarkAllowDoneParallel(b *testing.B) {
	br := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		now := time.Now()
		for pb.Next() {
			tk, _ := br.Allow(now)
			br.Done(tk, true)
		}
	})
}

func BenchmarkAllowOpen(b *testing.B) {
	br := New(Options{ConsecutiveFailures: 1, OpenFor: time.Hour})
	now := time.Now()
	tk, _ := br.Allow(now)
	br.Done(tk, false)
	b.ReportAllocs()
	for b.Loop() {
		br.Allow(now)
	}
}
