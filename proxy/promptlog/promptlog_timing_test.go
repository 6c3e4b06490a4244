package promptlog

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkLog measures the caller's cost (copy + enqueue); entries beyond
// what the writer keeps up with are dropped, as in production.
func BenchmarkLog(b *testing.B) {
	l := start(io.Discard, nil, nil)
	defer l.Close()
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 300) + `"}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		l.Log("0123456789abcdef", "openai", "gpt-4o", body)
	}
}
