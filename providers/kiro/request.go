package kiro

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// The texts put where the service refuses an empty content.
const (
	continueText    = "Continue"
	toolResultsText = "Tool results provided."
	toolUseText     = "(calling tools)"
	emptyText       = "(empty)"
)

// turn is one message of the conversation as the service takes it.
type turn struct {
	user    bool
	text    []byte
	images  []image
	results []toolResult
	uses    []toolUse
}

type image struct{ format, data string }

type toolResult struct {
	id      string
	text    []byte
	isError bool
}

type toolUse struct {
	id, name string
	input    []byte // a JSON object
}

// errRequest marks a request the service cannot take, for the client.
var errRequest = errors.New("kiro")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRequest, fmt.Sprintf(format, args...))
}

// buildRequest turns an Anthropic Messages body into a
// generateAssistantResponse body, applying the rules whose breach the
// service answers with 400 "Improperly formed request": turns alternate
// user/assistant, the history starts with a user turn and ends with an
// assistant turn, no content is empty, every tool id appears once, a tool
// result answers a tool use of the turn before it, and a tool input is a
// JSON object.
func buildRequest(body []byte, modelID, conversationID, profileArn string) ([]byte, error) {
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return nil, badRequest("the body is not JSON: %v", err)
	}
	turns, err := readTurns(v)
	if err != nil {
		return nil, err
	}
	turns = shape(turns, systemText(v.Get("system")))
	if n := thinkingBudget(v); n > 0 {
		cur := &turns[len(turns)-1]
		cur.text = append([]byte(thinkingPrefix(n)), cur.text...)
	}
	tools := v.GetArray("tools")
	needTools := false
	for _, t := range turns {
		if len(t.uses) > 0 || len(t.results) > 0 {
			needTools = true
		}
	}
	b := append([]byte(nil), `{"conversationState":{"agentTaskType":"vibe","chatTriggerType":"MANUAL","conversationId":`...)
	b = wire.AppendJSONString(b, conversationID)
	b = append(b, `,"currentMessage":{"userInputMessage":`...)
	b, err = appendUser(b, &turns[len(turns)-1], modelID, tools, needTools)
	if err != nil {
		return nil, err
	}
	b = append(b, `},"history":[`...)
	for i := range turns[:len(turns)-1] {
		if i > 0 {
			b = append(b, ',')
		}
		t := &turns[i]
		if t.user {
			b = append(b, `{"userInputMessage":`...)
			if b, err = appendUser(b, t, modelID, nil, false); err != nil {
				return nil, err
			}
			b = append(b, '}')
		} else {
			b = appendAssistant(b, t)
		}
	}
	b = append(b, "]}"...)
	if profileArn != "" {
		b = wire.AppendJSONString(append(b, `,"profileArn":`...), profileArn)
	}
	return append(b, '}'), nil
}

// readTurns reads the messages, merging consecutive ones of one role.
func readTurns(v *fastjson.Value) ([]turn, error) {
	msgs := v.GetArray("messages")
	if len(msgs) == 0 {
		return nil, badRequest("messages is empty")
	}
	var turns []turn
	for i, m := range msgs {
		role := string(m.GetStringBytes("role"))
		if role != "user" && role != "assistant" {
			return nil, badRequest("messages[%d]: role %q (user or assistant)", i, role)
		}
		if len(turns) == 0 || turns[len(turns)-1].user != (role == "user") {
			turns = append(turns, turn{user: role == "user"})
		}
		if err := readContent(&turns[len(turns)-1], m.Get("content")); err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
	}
	return turns, nil
}

func readContent(t *turn, c *fastjson.Value) error {
	if c == nil {
		return nil
	}
	if c.Type() == fastjson.TypeString {
		appendText(&t.text, c.GetStringBytes())
		return nil
	}
	for _, blk := range c.GetArray() {
		switch string(blk.GetStringBytes("type")) {
		case "text":
			appendText(&t.text, blk.GetStringBytes("text"))
		case "image":
			src := blk.Get("source")
			if string(src.GetStringBytes("type")) != "base64" {
				return badRequest("an image must be base64 data (the service takes no image URL)")
			}
			format := strings.TrimPrefix(string(src.GetStringBytes("media_type")), "image/")
			t.images = append(t.images, image{format: format, data: string(src.GetStringBytes("data"))})
		case "tool_use":
			in := blk.Get("input")
			input := []byte("{}")
			if in != nil && in.Type() == fastjson.TypeObject {
				input = in.MarshalTo(nil)
			}
			t.uses = append(t.uses, toolUse{id: string(blk.GetStringBytes("id")), name: string(blk.GetStringBytes("name")), input: input})
		case "tool_result":
			r := toolResult{id: string(blk.GetStringBytes("tool_use_id")), isError: blk.GetBool("is_error")}
			if rc := blk.Get("content"); rc != nil && rc.Type() == fastjson.TypeString {
				r.text = append(r.text, rc.GetStringBytes()...)
			} else {
				for _, part := range blk.GetArray("content") {
					appendText(&r.text, part.GetStringBytes("text"))
				}
			}
			t.results = append(t.results, r)
		}
		// thinking and other blocks carry nothing the service takes back
	}
	return nil
}

func appendText(dst *[]byte, s []byte) {
	if len(s) == 0 {
		return
	}
	if len(*dst) > 0 {
		*dst = append(*dst, "\n\n"...)
	}
	*dst = append(*dst, s...)
}

// systemText joins the system prompt (a string or text blocks).
func systemText(s *fastjson.Value) []byte {
	if s == nil {
		return nil
	}
	if s.Type() == fastjson.TypeString {
		return s.GetStringBytes()
	}
	var out []byte
	for _, blk := range s.GetArray() {
		appendText(&out, blk.GetStringBytes("text"))
	}
	return out
}

// shape applies the service's rules to the turns (see buildRequest).
func shape(turns []turn, system []byte) []turn {
	if !turns[0].user {
		turns = append([]turn{{user: true, text: []byte(continueText)}}, turns...)
	}
	if !turns[len(turns)-1].user {
		// The service continues from a user turn; an assistant prefill is
		// kept as history.
		turns = append(turns, turn{user: true, text: []byte(continueText)})
	}
	if len(system) > 0 {
		t := &turns[0]
		t.text = append(append(append([]byte(nil), system...), "\n\n"...), t.text...)
	}
	seenUse := map[string]bool{}
	seenResult := map[string]bool{}
	var offered map[string]bool // tool uses of the assistant turn just before
	for i := range turns {
		t := &turns[i]
		if !t.user {
			uses := t.uses[:0]
			offered = map[string]bool{}
			for _, u := range t.uses {
				if u.id == "" || seenUse[u.id] {
					continue
				}
				seenUse[u.id] = true
				offered[u.id] = true
				uses = append(uses, u)
			}
			t.uses = uses
			if len(t.text) == 0 {
				t.text = []byte(emptyText)
				if len(t.uses) > 0 {
					t.text = []byte(toolUseText)
				}
			}
			continue
		}
		results := t.results[:0]
		for _, r := range t.results {
			switch {
			case seenResult[r.id]:
				continue
			case !offered[r.id]:
				// A result for no tool use of the turn before: the
				// service refuses it as a result, so it becomes text.
				appendText(&t.text, []byte("Tool result "+r.id+":\n"+string(r.text)))
				continue
			}
			seenResult[r.id] = true
			if len(r.text) == 0 {
				r.text = []byte(emptyText)
			}
			results = append(results, r)
		}
		t.results = results
		offered = nil
		if len(t.text) == 0 {
			t.text = []byte(continueText)
			if len(t.results) > 0 {
				t.text = []byte(toolResultsText)
			}
		}
	}
	return turns
}

func appendUser(b []byte, t *turn, modelID string, tools []*fastjson.Value, needTools bool) ([]byte, error) {
	b = wire.AppendJSONString(append(b, `{"content":`...), string(t.text))
	b = wire.AppendJSONString(append(b, `,"modelId":`...), modelID)
	b = append(b, `,"origin":"AI_EDITOR"`...)
	if len(t.images) > 0 {
		b = append(b, `,"images":[`...)
		for i, im := range t.images {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendJSONString(append(b, `{"format":`...), im.format)
			b = wire.AppendJSONString(append(b, `,"source":{"bytes":`...), im.data)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	if len(t.results) == 0 && len(tools) == 0 && !needTools {
		return append(b, '}'), nil
	}
	b = append(b, `,"userInputMessageContext":{`...)
	sep := ""
	if len(t.results) > 0 {
		b = append(b, `"toolResults":[`...)
		for i, r := range t.results {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendJSONString(append(b, `{"toolUseId":`...), r.id)
			b = wire.AppendJSONString(append(b, `,"content":[{"text":`...), string(r.text))
			status := "success"
			if r.isError {
				status = "error"
			}
			b = append(append(append(b, `}],"status":"`...), status...), `"}`...)
		}
		b = append(b, ']')
		sep = ","
	}
	if len(tools) > 0 || needTools {
		b = append(append(b, sep...), `"tools":[`...)
		if len(tools) == 0 {
			// History with tool calls but no tool declared: the service
			// wants a tool list.
			b = append(b, `{"toolSpecification":{"name":"no_tool_available","description":"This conversation declares no tool; do not call one.","inputSchema":{"json":{"type":"object","properties":{}}}}}`...)
		}
		for i, tool := range tools {
			if i > 0 {
				b = append(b, ',')
			}
			name := string(tool.GetStringBytes("name"))
			if name == "" {
				return nil, badRequest("tools[%d]: a tool needs a name", i)
			}
			desc := string(tool.GetStringBytes("description"))
			if desc == "" {
				desc = name
			}
			schema := []byte(`{"type":"object","properties":{}}`)
			if s := tool.Get("input_schema"); s != nil && s.Type() == fastjson.TypeObject {
				schema = s.MarshalTo(nil)
			}
			b = wire.AppendJSONString(append(b, `{"toolSpecification":{"name":`...), name)
			b = wire.AppendJSONString(append(b, `,"description":`...), desc)
			b = append(append(append(b, `,"inputSchema":{"json":`...), schema...), "}}}"...)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...), nil
}

func appendAssistant(b []byte, t *turn) []byte {
	b = wire.AppendJSONString(append(b, `{"assistantResponseMessage":{"content":`...), string(t.text))
	if len(t.uses) > 0 {
		b = append(b, `,"toolUses":[`...)
		for i, u := range t.uses {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendJSONString(append(b, `{"toolUseId":`...), u.id)
			b = wire.AppendJSONString(append(b, `,"name":`...), u.name)
			b = append(append(append(b, `,"input":`...), u.input...), '}')
		}
		b = append(b, ']')
	}
	return append(b, "}}"...)
}

// ModelID maps an Anthropic model name to the service's: a date suffix
// dropped and the version's dash made a dot (claude-sonnet-4-5-20250929
// → claude-sonnet-4.5); overrides win, and other names pass as they are.
func ModelID(model string, overrides map[string]string) string {
	if m, ok := overrides[model]; ok {
		return m
	}
	m := model
	if i := strings.LastIndexByte(m, '-'); i > 0 && len(m)-i-1 == 8 && allDigits(m[i+1:]) {
		m = m[:i]
	}
	if !strings.HasPrefix(m, "claude-") {
		return model
	}
	i := strings.LastIndexByte(m, '-')
	j := strings.LastIndexByte(m[:max(i, 0)], '-')
	if i > 0 && j > 0 && allDigits(m[i+1:]) && allDigits(m[j+1:i]) {
		return m[:i] + "." + m[i+1:]
	}
	return m
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// thinkingBudget is the thinking budget the client asked for
// ({"thinking":{"type":"enabled","budget_tokens":n}}), 0 for none.
func thinkingBudget(v *fastjson.Value) int {
	if string(v.GetStringBytes("thinking", "type")) != "enabled" {
		return 0
	}
	return max(v.GetInt("thinking", "budget_tokens"), 0)
}
