package kiro

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/kiro/eventstream"
	"github.com/llmproxy/proxy/providers/kiro/eventstream/esencode"
)

func frames(evs ...[2]string) []byte {
	var b []byte
	for _, e := range evs {
		b = esencode.Event(b, e[0], e[1])
	}
	return b
}

func sseOf(b []byte) (string, error) {
	s := &sse{r: reader{dec: eventstream.NewDecoder(bytes.NewReader(b), 0)}, closeFn: func(error) error { return nil },
		model: "m", id: "msg_1", count: func(o []byte) int { return len(o) }}
	out, err := io.ReadAll(s)
	return string(out), err
}

func wholeOf(b []byte) (string, error) {
	out, err := whole(&reader{dec: eventstream.NewDecoder(bytes.NewReader(b), 0)}, "msg_1", "m", 1, nil, func(o []byte) int { return len(o) })
	return string(out), err
}

// TestAnswerEdges: a repeated stop for an ended tool use is ignored; more
// input for it is an error, never a second block with the same id; an
// answer failing at once fails before message_start; an empty answer is
// an error.
func TestAnswerEdges(t *testing.T) {
	const tool = "toolUseEvent"
	repeatStop := frames([2]string{tool, `{"name":"t","toolUseId":"u1","input":"{}"}`}, [2]string{tool, `{"name":"t","toolUseId":"u1","stop":true}`},
		[2]string{tool, `{"name":"t","toolUseId":"u1","stop":true}`})
	out, err := sseOf(repeatStop)
	if err != nil || strings.Count(out, "event: content_block_start") != 1 || !strings.Contains(out, "message_stop") {
		t.Fatalf("repeated stop: %v\n%s", err, out)
	}
	if msg, err := wholeOf(repeatStop); err != nil || strings.Count(msg, `"type":"tool_use"`) != 1 {
		t.Fatalf("repeated stop, whole: %v %s", err, msg)
	}
	more := frames([2]string{tool, `{"name":"t","toolUseId":"u1","input":"{"}`}, [2]string{"assistantResponseEvent", `{"content":"x"}`},
		[2]string{tool, `{"name":"t","toolUseId":"u1","input":"}"}`})
	if _, err := sseOf(more); err == nil || !strings.Contains(err.Error(), "continued after it ended") {
		t.Fatalf("input after the end: %v", err)
	}
	if _, err := wholeOf(more); err == nil {
		t.Fatal("whole: input after the end accepted")
	}
	exc := esencode.Exception(nil, "InternalServerException", `{"message":"boom"}`)
	if out, err := sseOf(exc); err == nil || out != "" || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("exception first: %q %v", out, err)
	}
	if _, err := sseOf(nil); err != ErrEmpty {
		t.Fatalf("empty: %v", err)
	}
	if msg, err := wholeOf(frames([2]string{tool, `{"name":"t","toolUseId":"u1","input":"not json"}`})); err == nil {
		t.Fatalf("whole accepted a tool input that is not JSON: %s", msg)
	}
}

func newDec(b []byte) *eventstream.Decoder { return eventstream.NewDecoder(bytes.NewReader(b), 0) }

func readAll(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

// TestAnswerGolden: the Anthropic events made of a tool-call answer
// (text, a tool use in three frames, metering and context usage).
func TestAnswerGolden(t *testing.T) {
	b := frames(
		[2]string{"assistantResponseEvent", `{"content":"Let me check."}`},
		[2]string{"toolUseEvent", `{"name":"get_weather","toolUseId":"tooluse_1","input":"{\"city\":"}`},
		[2]string{"toolUseEvent", `{"name":"get_weather","toolUseId":"tooluse_1","input":"\"Paris\"}"}`},
		[2]string{"toolUseEvent", `{"name":"get_weather","toolUseId":"tooluse_1","stop":true}`},
		[2]string{"meteringEvent", `{"unit":"credit","unitPlural":"credits","usage":0.25}`},
		[2]string{"contextUsageEvent", `{"contextUsagePercentage":1.5}`},
	)
	s := &sse{r: reader{dec: newDec(b)}, closeFn: func(error) error { return nil }, model: "claude-sonnet-4-5", id: "msg_golden",
		input: 42, count: func(o []byte) int { return len(o) }}
	out, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/kiro_tool_answer.golden.sse"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		_ = os.WriteFile(golden, []byte(out), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatalf("events differ from %s:\n%s", golden, out)
	}
}
