package kiro

import (
	"encoding/json"
	"strings"
	"testing"
)

// joined runs the splitter over chunks and joins the thinking and the
// text it makes.
func joined(chunks ...string) (thinking, text string) {
	var sp splitter
	var segs []segment
	for _, c := range chunks {
		segs = sp.feed(segs, []byte(c))
		// segments alias the chunk: copy them as a consumer would
		for i := range segs {
			segs[i].text = append([]byte(nil), segs[i].text...)
		}
	}
	segs = sp.flush(segs)
	var th, tx strings.Builder
	for _, s := range segs {
		if s.thinking {
			th.Write(s.text)
		} else {
			tx.Write(s.text)
		}
	}
	return th.String(), tx.String()
}

// TestSplitterEverySplit: the thinking at the start of an answer is
// separated from its text wherever the chunks break, tags included.
func TestSplitterEverySplit(t *testing.T) {
	for _, tc := range []struct{ in, thinking, text string }{
		{"<thinking>plan a route</thinking>\n\nThe answer.", "plan a route", "The answer."},
		{"No thinking here <thinking>x</thinking>", "", "No thinking here <thinking>x</thinking>"},
		{"<think", "", "<think"},
		{"<thinking>cut short", "cut short", ""},
		{"<thinking>a</thinkin", "a</thinkin", ""},
	} {
		for i := 0; i <= len(tc.in); i++ {
			for j := i; j <= len(tc.in); j++ {
				th, tx := joined(tc.in[:i], tc.in[i:j], tc.in[j:])
				if th != tc.thinking || tx != tc.text {
					t.Fatalf("%q split at %d,%d: thinking %q text %q", tc.in, i, j, th, tx)
				}
			}
		}
	}
}

// TestThinkingAnswer: with thinking asked for, the answer's thinking
// becomes a thinking block before the text block, streamed and whole;
// the request carries the IDE's thinking tags.
func TestThinkingAnswer(t *testing.T) {
	b := frames([2]string{"assistantResponseEvent", `{"content":"<thin"}`}, [2]string{"assistantResponseEvent", `{"content":"king>Let me think.</thi"}`},
		[2]string{"assistantResponseEvent", `{"content":"nking>\n\nHi."}`})
	s := &sse{r: reader{dec: newDec(b)}, closeFn: func(error) error { return nil }, model: "m", id: "msg_1",
		count: func(o []byte) int { return len(o) }, think: &splitter{}}
	out, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"content_block":{"type":"thinking","thinking":""}`, `"thinking_delta","thinking":"Let me think."`,
		`"index":1,"content_block":{"type":"text","text":""}`, `"text_delta","text":"Hi."`} {
		if !strings.Contains(out, want) {
			t.Errorf("stream lacks %s:\n%s", want, out)
		}
	}
	msg, err := whole(&reader{dec: newDec(b)}, "msg_1", "m", 1, &splitter{}, func(o []byte) int { return len(o) })
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Content []map[string]any }
	if err := json.Unmarshal(msg, &m); err != nil || len(m.Content) != 2 || m.Content[0]["thinking"] != "Let me think." || m.Content[1]["text"] != "Hi." {
		t.Fatalf("%v %s", err, msg)
	}
	req, err := buildRequest([]byte(`{"thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"hi"}]}`), "m", "c", "")
	var r struct {
		ConversationState struct {
			CurrentMessage struct{ UserInputMessage struct{ Content string } }
		}
	}
	if err != nil || json.Unmarshal(req, &r) != nil ||
		r.ConversationState.CurrentMessage.UserInputMessage.Content != "<thinking_mode>enabled</thinking_mode><max_thinking_length>2048</max_thinking_length>\n\nhi" {
		t.Fatalf("%v %s", err, req)
	}
}
