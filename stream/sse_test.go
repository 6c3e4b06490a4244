package stream

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// chunkedReader returns its input n bytes per Read, to split events at
// every possible boundary.
type chunkedReader struct {
	s string
	n int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.s))
	copy(p, c.s[:n])
	c.s = c.s[n:]
	return n, nil
}

type parsed struct{ name, data string }

func readAll(t *testing.T, r *Reader) ([]parsed, error) {
	t.Helper()
	var out []parsed
	var ev Event
	for {
		err := r.Fill()
		for r.Next(&ev) {
			out = append(out, parsed{string(ev.Name), string(ev.Data)})
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if r.Rest(&ev) {
					out = append(out, parsed{string(ev.Name), string(ev.Data)})
				}
				return out, nil
			}
			return out, err
		}
	}
}

func TestReaderEvents(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []parsed
	}{
		{"openai data lines", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []parsed{{"", `{"a":1}`}, {"", "[DONE]"}}},
		{"named events", "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
			[]parsed{{"message_start", "{}"}, {"ping", `{"type":"ping"}`}}},
		{"crlf", "event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", []parsed{{"x", "1"}, {"", "2"}}},
		{"lone cr", "data: 1\r\rdata: 2\r\r", []parsed{{"", "1"}, {"", "2"}}},
		{"multi-line data joined", "data: a\ndata: b\ndata: c\n\n", []parsed{{"", "a\nb\nc"}}},
		{"no space after colon", "data:x\n\n", []parsed{{"", "x"}}},
		{"comments and stray blank lines", ": ping\n\n\n\ndata: 1\n\n", []parsed{{"", ""}, {"", "1"}}},
		{"bare json line is data", "{\"error\":{\"code\":500}}\n\n", []parsed{{"", `{"error":{"code":500}}`}}},
		{"last event without blank line", "data: 1\n\ndata: 2\n", []parsed{{"", "1"}, {"", "2"}}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: z\n\n", []parsed{{"", "z"}}},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 2, 3, 7, 4096} {
			r := NewReader(&chunkedReader{tt.in, step}, 0)
			got, err := readAll(t, r)
			if err != nil {
				t.Fatalf("%s/step %d: %v", tt.name, step, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%s/step %d: got %q, want %q", tt.name, step, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("%s/step %d: event %d = %q, want %q", tt.name, step, i, got[i], tt.want[i])
				}
			}
		}
	}
}

func TestReaderRawIsContiguous(t *testing.T) {
	in := "data: 1\n\n: c\n\nevent: e\ndata: 2\n\n"
	r := NewReader(strings.NewReader(in), 0)
	for r.Fill() == nil {
	}
	var ev Event
	var raw string
	for r.Next(&ev) {
		raw += string(ev.Raw)
	}
	if raw != in {
		t.Fatalf("raw events %q do not rebuild the input %q", raw, in)
	}
}

func TestReaderGrowsToLargeEvent(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	r := NewReader(&chunkedReader{"data: " + big + "\n\ndata: [DONE]\n\n", 64 << 10}, 0)
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].data != big || got[1].data != "[DONE]" {
		t.Fatalf("got %d events", len(got))
	}
}

func TestReaderEventTooLarge(t *testing.T) {
	r := NewReader(&chunkedReader{"data: " + strings.Repeat("x", 20000) + "\n\n", 4096}, 8192)
	_, err := readAll(t, r)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"), uint8(3))
	f.Add([]byte("event: x\r\ndata: 1\r\n\r\n: c\r\r"), uint8(1))
	f.Add([]byte("data: a\ndata: b\n"), uint8(200))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		n := int(step%64) + 1
		r := NewReader(&chunkedReader{string(in), n}, 1<<16)
		var ev Event
		total := 0
		for {
			err := r.Fill()
			for r.Next(&ev) {
				total += len(ev.Raw)
				if len(ev.Data) > len(in) {
					t.Fatalf("data longer than input")
				}
			}
			if err != nil {
				break
			}
		}
		if total > len(in) {
			t.Fatalf("events cover %d bytes of a %d-byte input", total, len(in))
		}
	})
}

// waitProbe is a source that, on each Read, records whether the Reader
// reading it held a buffer at that moment, and how much it asked for.
type waitProbe struct {
	r     *Reader
	parts []string
	seen  []string // "held N" or "none N" per Read
}

func (p *waitProbe) Read(b []byte) (int, error) {
	state := "none"
	if p.r.bufp != nil {
		state = "held"
	}
	p.seen = append(p.seen, state+" "+strconv.Itoa(len(b)))
	if len(p.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.parts[0])
	if p.parts[0] = p.parts[0][n:]; p.parts[0] == "" {
		p.parts = p.parts[1:]
	}
	return n, nil
}

// TestReaderHoldsNoBufferWhileWaiting: with every event consumed, the
// Reader waits for the next bytes holding no buffer and asking for one
// byte, then takes a buffer of its size (the room ReserveBody made
// included) for what came with it; a partial event keeps its buffer.
func TestReaderHoldsNoBufferWhileWaiting(t *testing.T) {
	p := &waitProbe{parts: []string{"data: 1\n\n", "data: 2\n", "\n"}}
	r := NewReader(p, 0)
	p.r = r
	r.ReserveBody(3000)
	var got []string
	var ev Event
	for r.Fill() == nil {
		for r.Next(&ev) {
			got = append(got, string(ev.Data))
		}
	}
	if strings.Join(got, ",") != "1,2" {
		t.Fatalf("events %q, want 1,2", got)
	}
	want := []string{
		"none 1", "held 4095", // event 1: a byte, then the rest
		"none 1", "held 4095", // "data: 2\n": a byte, then the rest
		"held 4088", // the blank line: the partial event keeps its buffer
		"none 1",    // the end
	}
	if strings.Join(p.seen, ", ") != strings.Join(want, ", ") {
		t.Fatalf("reads\n%s\nwant\n%s", strings.Join(p.seen, ", "), strings.Join(want, ", "))
	}
}
