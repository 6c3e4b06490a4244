package stream

import (
	"io"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

// repeatUpstream returns the same bytes n times, then the terminator and
// EOF: an upstream that never makes the relay wait. A Read shorter than
// the chunk (or the terminator) gets its start and the next Read the rest,
// as a socket would.
type repeatUpstream struct {
	chunk []byte
	n     int
	off   int // how much of the current chunk, or of the terminator, was read
}

func (u *repeatUpstream) Read(p []byte) (int, error) {
	if u.n > 0 {
		c := copy(p, u.chunk[u.off:])
		if u.off += c; u.off == len(u.chunk) {
			u.off = 0
			u.n--
		}
		return c, nil
	}
	if u.off < len(done) {
		c := copy(p, done[u.off:])
		u.off += c
		return c, nil
	}
	return 0, io.EOF
}

func (u *repeatUpstream) CloseWithError(error) error { return nil }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// realChunk is a 330-byte OpenAI chunk, the size the field notes measured.
const realChunk = `data: {"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk","created":1731000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"

func benchmarkRelay(b *testing.B, perRead int) { benchmarkRelayWith(b, perRead, Options{}) }

func benchmarkRelayWith(b *testing.B, perRead int, o Options) {
	chunk := []byte{}
	for i := 0; i < perRead; i++ {
		chunk = append(chunk, realChunk...)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(realChunk)))
	up := &repeatUpstream{chunk: chunk, n: b.N / perRead}
	r := NewRelay(up, PassThrough(wire.OpenAIChat), o)
	b.ResetTimer()
	if _, err := r.WriteTo(discard{}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRelayEvent measures relaying one event that arrives on its own
// (one upstream read, one client write per event). ns/op is per event.
func BenchmarkRelayEvent(b *testing.B) { benchmarkRelay(b, 1) }

// BenchmarkRelayEventDefaults is BenchmarkRelayEvent with the default
// configuration's heartbeat (500 ms of silence) and client write timeout
// (30 s), which the relay keeps armed across its writes.
func BenchmarkRelayEventDefaults(b *testing.B) {
	benchmarkRelayWith(b, 1, Options{Heartbeat: 500 * time.Millisecond, WriteTimeout: 30 * time.Second, Conn: noDeadline{}})
}

// noDeadline is a client connection whose write deadlines cost nothing.
type noDeadline struct{}

func (noDeadline) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkRelayEventBatched measures events that arrive ten per read and
// leave ten per write. ns/op is per event.
func BenchmarkRelayEventBatched(b *testing.B) { benchmarkRelay(b, 10) }

// BenchmarkRelayStream measures a whole 20-event stream, setup included.
func BenchmarkRelayStream(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		up := &repeatUpstream{chunk: []byte(realChunk), n: 20}
		if _, err := NewRelay(up, PassThrough(wire.OpenAIChat), Options{}).WriteTo(discard{}); err != nil {
			b.Fatal(err)
		}
	}
}
