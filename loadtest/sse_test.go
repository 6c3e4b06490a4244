package loadtest

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func chunkLine(content string) string {
	return `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + content + `"}}]}` + "\n\n"
}

const usageLine = `data: {"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":7}}` + "\n\n"

func newTestWorker() *worker {
	return &worker{proto: protocols["chat"], rec: newRecorder(time.Millisecond), br: bufio.NewReaderSize(nil, 16<<10)}
}

func TestReadSSE(t *testing.T) {
	role := `data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}` + "\n\n"
	long := strings.Repeat("x", 200<<10) // longer than the 16 KiB read buffer
	tests := []struct {
		name      string
		stream    string
		class     string
		chunks    int64
		tokens    int64
		ttft      bool
		tpot      bool
		truncated bool
	}{
		{"complete with usage", role + chunkLine("a") + chunkLine("b") + chunkLine("c") + usageLine + "data: [DONE]\n\n",
			"", 5, 7, true, true, false},
		{"no usage: tokens are the content events", role + chunkLine("a") + chunkLine("b") + "data: [DONE]\n\n",
			"", 3, 2, true, true, false},
		{"missing DONE is truncated", role + chunkLine("a") + chunkLine("b"), classTruncated, 3, 2, true, true, true},
		{"CRLF and no space after colon", strings.ReplaceAll(chunkLine("a"), "data: ", "data:") + "\r\n" + "data:[DONE]\r\n\r\n",
			"", 1, 1, true, false, false},
		{"comments and event fields ignored", ": ping\n\nevent: x\n" + chunkLine("a") + "data: [DONE]\n\n", "", 1, 1, true, false, false},
		{"error event mid-stream", chunkLine("a") + `data: {"error":{"message":"boom"}}` + "\n\n" + "data: [DONE]\n\n",
			classStreamError, 2, 1, true, false, false},
		{"invalid JSON chunk", "data: {nope\n\n" + "data: [DONE]\n\n", classInvalidBody, 1, 0, false, false, false},
		{"line longer than the buffer", chunkLine(long) + chunkLine("b") + "data: [DONE]\n\n", "", 2, 2, true, true, false},
		{"no content at all", role + "data: [DONE]\n\n", "", 1, 0, false, false, false},
		{"data split over lines is one event", "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"a\"}}]}\n\n" + chunkLine("b") + "data: [DONE]\n\n",
			"", 2, 2, true, true, false},
		{"last event without blank line", chunkLine("a") + "data: [DONE]", "", 1, 1, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWorker()
			w.s = sample{streamed: true, sent: time.Now().Add(-time.Millisecond)}
			if err := w.readSSE(strings.NewReader(tc.stream)); err != nil {
				t.Fatal(err)
			}
			s := w.s
			if s.class != tc.class || s.chunks != tc.chunks || s.tokens != tc.tokens || s.truncated != tc.truncated {
				t.Errorf("class %q chunks %d tokens %d truncated %v; want %q %d %d %v",
					s.class, s.chunks, s.tokens, s.truncated, tc.class, tc.chunks, tc.tokens, tc.truncated)
			}
			if (s.ttft > 0) != tc.ttft || (s.tpot > 0) != tc.tpot {
				t.Errorf("ttft %v tpot %v; want ttft %v tpot %v", s.ttft, s.tpot, tc.ttft, tc.tpot)
			}
			if s.bytes != int64(len(tc.stream)) {
				t.Errorf("counted %d bytes of %d", s.bytes, len(tc.stream))
			}
			if want := int(tc.chunks) - 1; len(w.gaps) != max(want, 0) {
				t.Errorf("%d gaps for %d chunks", len(w.gaps), tc.chunks)
			}
		})
	}
}

// TestReadSSEAllocs guards the generator's per-stream cost: parsing a
// stream into the worker's reused buffers allocates nothing.
func TestReadSSEAllocs(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i < 20; i++ {
		b.WriteString(chunkLine("tok"))
	}
	b.WriteString(usageLine + "data: [DONE]\n\n")
	stream := b.Bytes()
	w := newTestWorker()
	var r bytes.Reader
	allocs := testing.AllocsPerRun(200, func() {
		r.Reset(stream)
		w.s = sample{streamed: true, sent: time.Now()}
		w.gaps = w.gaps[:0]
		if err := w.readSSE(&r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("readSSE allocates %.1f times per stream", allocs)
	}
}
