package stream

import (
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// Relaying an event, pass-through, must not allocate: a stream's cost is
// paid once at its start, never per event.
func TestAllocsPerRelayedEvent(t *testing.T) {
	up := &repeatUpstream{chunk: []byte(realChunk + realChunk), n: 1 << 30}
	r := NewRelay(up, PassThrough(wire.OpenAIChat), Options{})
	r.w = discard{}
	if err := r.step(); err != errContinue { // warm up the buffers
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if err := r.step(); err != errContinue {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocations per relayed read, want 0", n)
	}
}
