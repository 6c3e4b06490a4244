package proxy

import (
	"bytes"
	"strconv"

	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/valyala/fastjson"
)

// minThinkingBudget is Anthropic's smallest thinking.budget_tokens; a
// request below it is refused with 400.
const minThinkingBudget = 1024

// raiseThinkingBudget mends an Anthropic request whose thinking budget is
// below the upstream's minimum (Claude Code asks for 500 on its small
// calls): the budget is raised to the minimum when max_tokens leaves room
// for it, and thinking is turned off otherwise. Anything else is returned
// as it is, without a parse unless the body names a budget.
func raiseThinkingBudget(body []byte) ([]byte, error) {
	if !bytes.Contains(body, []byte(`"budget_tokens"`)) {
		return body, nil
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return body, nil // the converters and the upstream say what is wrong
	}
	th := v.Get("thinking")
	if th == nil || string(th.GetStringBytes("type")) != "enabled" {
		return body, nil
	}
	budget := th.GetInt("budget_tokens")
	if budget >= minThinkingBudget || th.Get("budget_tokens") == nil {
		return body, nil
	}
	if v.GetInt("max_tokens") > minThinkingBudget {
		return jsonpatch.Replace(nil, body, "thinking",
			[]byte(`{"type":"enabled","budget_tokens":`+strconv.Itoa(minThinkingBudget)+`}`))
	}
	return jsonpatch.Replace(nil, body, "thinking", []byte(`{"type":"disabled"}`))
}
