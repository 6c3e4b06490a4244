package loadtest

import (
	"bytes"
	"testing"
	"time"
)

// Generator overhead per request. Run with:
//
//	go test -run '^$' -bench . -benchtime 2s ./loadtest/
//
// The network benchmarks answer from a canned responder that allocates
// nothing per request, so allocations reported are the generator's; their
// time includes the loopback round trip and the responder's CPU.
// BenchmarkReadSSE and BenchmarkRecord isolate parsing and bookkeeping.

func benchWorker(b *testing.B, stream bool) {
	resp := cannedPlain()
	if stream {
		resp = cannedStream(20)
	}
	url := startCanned(b, resp)
	bodies, err := buildBodies(&Config{Model: "mock-gpt"})
	if err != nil {
		b.Fatal(err)
	}
	ep, err := newEndpoint("target", url, endpointSpec{apiKey: "k", conns: 1, timeout: 5 * time.Second, bodies: bodies})
	if err != nil {
		b.Fatal(err)
	}
	ep.tl = newTimeline(time.Now(), time.Second, time.Hour)
	w := newWorker(ep, newRecorder(time.Millisecond))
	defer w.release()
	defer ep.hc.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Now()
		w.do(ep, stream, now, now.Add(5*time.Second))
		if w.s.class != "" {
			b.Fatalf("request failed: %s", w.s.class)
		}
	}
}

func BenchmarkWorkerPlain(b *testing.B)  { benchWorker(b, false) }
func BenchmarkWorkerStream(b *testing.B) { benchWorker(b, true) }

func BenchmarkReadSSE(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; i < 20; i++ {
		buf.WriteString(chunkLine("tok"))
	}
	buf.WriteString(usageLine + "data: [DONE]\n\n")
	stream := buf.Bytes()
	w := newTestWorker()
	var r bytes.Reader
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for i := 0; i < b.N; i++ {
		r.Reset(stream)
		w.s = sample{streamed: true, sent: time.Now()}
		w.gaps = w.gaps[:0]
		if err := w.readSSE(&r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	rec := newRecorder(time.Millisecond)
	now := time.Now()
	s := sample{intended: now, sent: now, end: now.Add(3 * time.Millisecond), streamed: true,
		headers: time.Millisecond, ttft: 2 * time.Millisecond, tpot: 50 * time.Microsecond, chunks: 22, bytes: 2000, tokens: 20}
	gaps := make([]time.Duration, 21)
	for i := range gaps {
		gaps[i] = time.Duration(40+i) * time.Microsecond
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec.record(&s, gaps)
	}
}
