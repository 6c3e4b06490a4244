package kiro

import (
	"os"
	"testing"

	"github.com/valyala/fastjson"
)

// FuzzBuildRequest: whatever a client sends, the request is refused with
// an error or built as JSON whose history alternates and ends with an
// assistant turn, with a non-empty current message.
func FuzzBuildRequest(f *testing.F) {
	if b, err := os.ReadFile("testdata/anthropic_tool_turn.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"t","input":1}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a"}]}]}`))
	f.Add([]byte(`{"system":"s","messages":[{"role":"user","content":""}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := buildRequest(body, "m", "c", "")
		if err != nil {
			return
		}
		v, err := fastjson.ParseBytes(out)
		if err != nil {
			t.Fatalf("built invalid JSON: %v\n%s", err, out)
		}
		cur := v.Get("conversationState", "currentMessage", "userInputMessage")
		if len(cur.GetStringBytes("content")) == 0 {
			t.Fatalf("empty current content: %s", out)
		}
		hist := v.GetArray("conversationState", "history")
		for i, h := range hist {
			key := "assistantResponseMessage"
			if i%2 == 0 {
				key = "userInputMessage"
			}
			m := h.Get(key)
			if m == nil || len(m.GetStringBytes("content")) == 0 {
				t.Fatalf("history[%d] is not a non-empty %s: %s", i, key, out)
			}
		}
		if len(hist)%2 != 0 {
			t.Fatalf("history ends with a user turn: %s", out)
		}
		seen := map[string]bool{}
		for _, h := range hist {
			for _, u := range h.GetArray("assistantResponseMessage", "toolUses") {
				id := string(u.GetStringBytes("toolUseId"))
				if seen[id] {
					t.Fatalf("duplicate tool id %q: %s", id, out)
				}
				seen[id] = true
				if u.Get("input").Type() != fastjson.TypeObject {
					t.Fatalf("tool input not an object: %s", out)
				}
			}
		}
	})
}
