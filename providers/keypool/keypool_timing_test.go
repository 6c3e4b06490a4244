package keypool

import (
	"strconv"
	"testing"
	"time"
)

func benchPool(n int) *Pool {
	return New(keysN(n), Options{Jitter: -1})
}

func BenchmarkAcquireRelease(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(strconv.Itoa(n)+"keys", func(b *testing.B) {
			p := benchPool(n)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				l, err := p.Acquire(now)
				if err != nil {
					b.Fatal(err)
				}
				l.Release(Outcome{Kind: OK})
			}
		})
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) {
	p := benchPool(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		now := time.Now()
		for pb.Next() {
			l, err := p.Acquire(now)
			if err != nil {
				b.Fatal(err)
			}
			l.Release(Outcome{Kind: OK})
		}
	})
}
