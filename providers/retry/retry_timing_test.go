package retry

import (
	"testing"
	"time"
)

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
