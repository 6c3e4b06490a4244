package metrics

import (
	"io"
	"testing"
	"time"
)

func BenchmarkObserveRequest(b *testing.B) {
	s := newTestSet()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.ObserveRequest("openai", "openai-main", "gpt-4o", 200, 800*time.Millisecond, 790*time.Millisecond, 512, 4096)
		}
	})
}

func BenchmarkObserveRequestUnknownModel(b *testing.B) {
	s := newTestSet()
	b.ReportAllocs()
	for b.Loop() {
		s.ObserveRequest("gemini", "anthropic", "some-client-model", 404, time.Millisecond, 0, 10, 100)
	}
}

func BenchmarkStreamGaugeAndTokens(b *testing.B) {
	s := newTestSet()
	b.ReportAllocs()
	for b.Loop() {
		s.StreamStarted()
		s.ObserveTTFT("anthropic", "anthropic", "claude-sonnet", 150*time.Millisecond)
		s.AddTokens("anthropic", "claude-sonnet", 1000, 300)
		s.StreamEnded()
	}
}

func BenchmarkWritePrometheus(b *testing.B) {
	s := newTestSet()
	for _, in := range []string{"openai", "openai-responses", "anthropic", "gemini"} {
		for _, m := range []string{"gpt-4o", "claude-sonnet"} {
			for _, st := range []int{200, 429, 502} {
				s.ObserveRequest(in, "openai-main", m, st, time.Second, 900*time.Millisecond, 100, 1000)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		s.WritePrometheus(io.Discard)
	}
}
