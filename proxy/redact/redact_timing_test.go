package redact

import (
	"strings"
	"testing"
)

func BenchmarkStringClean(b *testing.B) {
	r := New([]string{"upstream-secret-1", "upstream-secret-2"})
	s := "upstream returned 503 service unavailable for model claude-sonnet-4 after 2 retries"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = r.String(s)
	}
}

func BenchmarkBytesPrompt(b *testing.B) {
	r := New([]string{"upstream-secret-1", "upstream-secret-2"})
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("Tell me about the weather in Paris today. ", 100) + `"}]}`)
	dst := make([]byte, 0, len(body)+64)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		dst = r.Bytes(dst[:0], body)
	}
}
