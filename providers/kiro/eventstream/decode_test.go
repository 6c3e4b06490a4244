package eventstream

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/llmproxy/proxy/providers/kiro/eventstream/esencode"
)

// TestDecodeSpecVector decodes a message whose bytes are published with
// the framing spec's public encoders (payload {"foo": "bar"}, no header),
// so the decoder and the test encoder are both held to the spec.
func TestDecodeSpecVector(t *testing.T) {
	frame, _ := hex.DecodeString("0000001e00000000baf2f68a" + hex.EncodeToString([]byte(`{"foo": "bar"}`)) + "ae7258e4")
	if got := esencode.Message(nil, nil, []byte(`{"foo": "bar"}`)); !bytes.Equal(got, frame) {
		t.Fatalf("encoder: %x, spec vector %x", got, frame)
	}
	d := NewDecoder(bytes.NewReader(frame), 0)
	m, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload) != `{"foo": "bar"}` || len(m.Headers) != 0 {
		t.Fatalf("decoded %q with %d headers", m.Payload, len(m.Headers))
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

// allTypes is a message with one header of every type the spec defines.
func allTypes() []byte {
	return esencode.Message(nil, []esencode.Header{
		{Name: "t", Type: TypeBoolTrue, Raw: []byte{}},
		{Name: "f", Type: TypeBoolFalse, Raw: []byte{}},
		{Name: "b", Type: TypeByte, Raw: []byte{0x7f}},
		{Name: "s", Type: TypeShort, Raw: []byte{1, 2}},
		{Name: "i", Type: TypeInt, Raw: []byte{1, 2, 3, 4}},
		{Name: "l", Type: TypeLong, Raw: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Name: "bytes", Type: TypeBytes, Raw: []byte{0, 3, 'a', 'b', 'c'}},
		{Name: "ts", Type: TypeTimestamp, Raw: []byte{0, 0, 1, 2, 3, 4, 5, 6}},
		{Name: "uuid", Type: TypeUUID, Raw: bytes.Repeat([]byte{9}, 16)},
		esencode.String(":event-type", "assistantResponseEvent"),
	}, []byte(`{"content":"hi"}`))
}

func TestDecodeHeaderTypes(t *testing.T) {
	m, err := NewDecoder(bytes.NewReader(allTypes()), 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		n    int
	}{{"t", 0}, {"f", 0}, {"b", 1}, {"s", 2}, {"i", 4}, {"l", 8}, {"bytes", 3}, {"ts", 8}, {"uuid", 16}, {":event-type", 22}}
	if len(m.Headers) != len(want) {
		t.Fatalf("%d headers, want %d", len(m.Headers), len(want))
	}
	for i, w := range want {
		if h := m.Headers[i]; h.Name != w.name || len(h.Value) != w.n {
			t.Errorf("header %d: %q with %d value bytes, want %q with %d", i, h.Name, len(h.Value), w.name, w.n)
		}
	}
	if got := m.Header(":event-type"); got != "assistantResponseEvent" {
		t.Errorf(":event-type = %q", got)
	}
	if string(m.Payload) != `{"content":"hi"}` {
		t.Errorf("payload %q", m.Payload)
	}
}

func stream(n int) []byte {
	var b []byte
	for i := range n {
		b = esencode.Event(b, "assistantResponseEvent", `{"content":"part `+string(rune('a'+i))+`"}`)
	}
	return b
}

// TestDecodeOneByteReads: a message split across reads at every byte.
func TestDecodeOneByteReads(t *testing.T) {
	payloads, err := decodeAll(iotest.OneByteReader(bytes.NewReader(stream(3))), 0)
	if err != nil || len(payloads) != 3 || payloads[2] != `{"content":"part c"}` {
		t.Fatalf("%q, %v", payloads, err)
	}
}

func decodeAll(r io.Reader, max int) ([]string, error) {
	d := NewDecoder(r, max)
	var out []string
	for {
		m, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(m.Payload))
	}
}

func TestDecodeFaults(t *testing.T) {
	good := stream(2)
	first := len(esencode.Event(nil, "assistantResponseEvent", `{"content":"part a"}`))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	huge := esencode.Message(nil, nil, make([]byte, 1000))
	badHeader := esencode.Message(nil, []esencode.Header{{Name: "x", Type: 10, Raw: []byte{}}}, nil)
	cases := []struct {
		name  string
		in    []byte
		max   int
		want  error
		nGood int
	}{
		{"truncated in the prelude", good[:first+5], 0, ErrTruncated, 1},
		{"truncated in the payload", good[:len(good)-7], 0, ErrTruncated, 1},
		{"truncated before the message CRC", good[:len(good)-4], 0, ErrTruncated, 1},
		{"prelude length corrupted", flip(first + 3), 0, ErrPreludeCRC, 1},
		{"prelude CRC corrupted", flip(first + 9), 0, ErrPreludeCRC, 1},
		{"payload corrupted", flip(len(good) - 10), 0, ErrMessageCRC, 1},
		{"message CRC corrupted", flip(len(good) - 1), 0, ErrMessageCRC, 1},
		{"header corrupted", flip(20), 0, ErrMessageCRC, 0},
		{"over the size bound", huge, 512, ErrTooLarge, 0},
		{"unknown header type", badHeader, 0, ErrMalformed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeAll(bytes.NewReader(c.in), c.max)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if len(got) != c.nGood {
				t.Fatalf("%d messages before the error, want %d", len(got), c.nGood)
			}
		})
	}
}

// TestDecodeLengthsDisagree: a prelude with a valid CRC whose lengths
// cannot describe a message.
func TestDecodeLengthsDisagree(t *testing.T) {
	for _, p := range [][2]uint32{{15, 0}, {16, 1}, {100, 90}} {
		b := []byte{byte(p[0] >> 24), byte(p[0] >> 16), byte(p[0] >> 8), byte(p[0]), byte(p[1] >> 24), byte(p[1] >> 16), byte(p[1] >> 8), byte(p[1])}
		c := esencode.CRC32(b)
		b = append(b, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
		b = append(b, make([]byte, 200)...)
		if _, err := NewDecoder(bytes.NewReader(b), 0).Next(); !errors.Is(err, ErrMalformed) {
			t.Errorf("total %d headers %d: %v, want ErrMalformed", p[0], p[1], err)
		}
	}
}

// chunked reads its data in the chunk sizes given, then the rest.
type chunked struct {
	b     []byte
	sizes []int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := len(c.b)
	if len(c.sizes) > 0 {
		n = min(n, max(c.sizes[0], 1))
		c.sizes = c.sizes[1:]
	}
	n = copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// FuzzDecode feeds the decoder a valid stream split at two points the
// fuzzer picks, with one byte the fuzzer may corrupt: an untouched
// stream must decode to its messages exactly at every split; a corrupted
// one must fail with an error (never a wrong message, never a panic).
func FuzzDecode(f *testing.F) {
	f.Add(0, 0, -1, byte(0))
	f.Add(1, 7, 3, byte(0xff))
	f.Add(13, 2, 40, byte(1))
	f.Add(0, 0, 0, byte(0))
	whole := append(stream(3), allTypes()...)
	want, err := decodeAll(bytes.NewReader(whole), 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, split1, split2, corrupt int, xor byte) {
		in := bytes.Clone(whole)
		corrupted := corrupt >= 0 && corrupt < len(in) && xor != 0
		if corrupted {
			in[corrupt] ^= xor
		}
		got, err := decodeAll(&chunked{b: in, sizes: []int{split1 % 512, split2 % 512}}, 0)
		if !corrupted {
			if err != nil || len(got) != len(want) {
				t.Fatalf("clean stream split at %d,%d: %d messages, %v", split1, split2, len(got), err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("message %d: %q, want %q", i, got[i], want[i])
				}
			}
			return
		}
		if err == nil {
			t.Fatalf("byte %d ^ %#x went unnoticed", corrupt, xor)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("corruption yielded a wrong message %d: %q", i, got[i])
			}
		}
	})
}

// TestDecodeEverySplit splits a stream at every byte boundary, and at
// every pair of boundaries within its first message: each must decode
// the same.
func TestDecodeEverySplit(t *testing.T) {
	whole := append(stream(2), allTypes()...)
	for i := 0; i <= len(whole); i++ {
		got, err := decodeAll(&chunked{b: bytes.Clone(whole), sizes: []int{i}}, 0)
		if err != nil || len(got) != 3 {
			t.Fatalf("split at %d: %q, %v", i, got, err)
		}
	}
	for i := 0; i <= 60; i++ {
		for j := 0; j <= 60; j++ {
			got, err := decodeAll(&chunked{b: bytes.Clone(whole), sizes: []int{i, j}}, 0)
			if err != nil || len(got) != 3 {
				t.Fatalf("split %d,%d: %q, %v", i, j, got, err)
			}
		}
	}
}

// TestDecodeAllocs: decoding reuses its buffer and header slice.
func TestDecodeAllocs(t *testing.T) {
	one := esencode.Event(nil, "assistantResponseEvent", `{"content":"x"}`)
	many := bytes.Repeat(one, 200)
	r := bytes.NewReader(many)
	d := NewDecoder(r, 0)
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("%.1f allocations per message, want at most 1", allocs)
	}
}
