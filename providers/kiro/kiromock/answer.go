package kiromock

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmproxy/proxy/providers/kiro/eventstream/esencode"
)

type userMsg struct {
	Content string `json:"content"`
	ModelID string `json:"modelId"`
	Origin  string `json:"origin"`
	Context *struct {
		ToolResults []struct {
			ToolUseID string            `json:"toolUseId"`
			Content   []json.RawMessage `json:"content"`
			Status    string            `json:"status"`
		} `json:"toolResults"`
		Tools []struct {
			Spec struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
			} `json:"toolSpecification"`
		} `json:"tools"`
	} `json:"userInputMessageContext"`
}

type asstMsg struct {
	Content  string `json:"content"`
	ToolUses []struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	} `json:"toolUses"`
}

// Request is a generateAssistantResponse body.
type Request struct {
	ConversationState struct {
		AgentTaskType   string `json:"agentTaskType"`
		ChatTriggerType string `json:"chatTriggerType"`
		ConversationID  string `json:"conversationId"`
		CurrentMessage  struct {
			UserInputMessage *userMsg `json:"userInputMessage"`
		} `json:"currentMessage"`
		History []struct {
			User *userMsg `json:"userInputMessage"`
			Asst *asstMsg `json:"assistantResponseMessage"`
		} `json:"history"`
	} `json:"conversationState"`
	ProfileArn string `json:"profileArn"`
}

// parse checks a body as strictly as the service's "Improperly formed
// request" rules are known to be.
func parse(body []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	cs := &r.ConversationState
	cur := cs.CurrentMessage.UserInputMessage
	switch {
	case cs.ChatTriggerType != "MANUAL" || cs.ConversationID == "":
		return nil, errors.New("chatTriggerType or conversationId")
	case cur == nil || cur.Content == "" || cur.ModelID == "" || cur.Origin == "":
		return nil, errors.New("currentMessage.userInputMessage incomplete")
	case len(cs.History)%2 != 0:
		return nil, errors.New("history does not end with an assistant turn")
	}
	seen := map[string]bool{}
	offered := map[string]bool{}
	checkResults := func(u *userMsg) error {
		if u.Context == nil {
			return nil
		}
		for _, tr := range u.Context.ToolResults {
			if !offered[tr.ToolUseID] {
				return fmt.Errorf("toolResult %s answers no tool use of the turn before", tr.ToolUseID)
			}
		}
		return nil
	}
	for i, h := range cs.History {
		wantUser := i%2 == 0
		switch {
		case wantUser && (h.User == nil || h.Asst != nil):
			return nil, fmt.Errorf("history[%d]: want a user turn", i)
		case !wantUser && (h.Asst == nil || h.User != nil):
			return nil, fmt.Errorf("history[%d]: want an assistant turn", i)
		case wantUser:
			if h.User.Content == "" {
				return nil, fmt.Errorf("history[%d]: empty content", i)
			}
			if err := checkResults(h.User); err != nil {
				return nil, err
			}
		default:
			if h.Asst.Content == "" {
				return nil, fmt.Errorf("history[%d]: empty content", i)
			}
			offered = map[string]bool{}
			for _, u := range h.Asst.ToolUses {
				if seen[u.ToolUseID] {
					return nil, fmt.Errorf("duplicate tool use id %s", u.ToolUseID)
				}
				seen[u.ToolUseID], offered[u.ToolUseID] = true, true
				if len(u.Input) == 0 || u.Input[0] != '{' {
					return nil, fmt.Errorf("tool use %s: input is not an object", u.ToolUseID)
				}
			}
		}
	}
	if err := checkResults(cur); err != nil {
		return nil, err
	}
	return &r, nil
}

// answer is the event frames the service sends for r: a tool call when a
// get_weather tool is offered and no result has come back yet, else text.
func answer(r *Request) [][]byte {
	cur := r.ConversationState.CurrentMessage.UserInputMessage
	var out [][]byte
	ev := func(typ, payload string) { out = append(out, esencode.Event(nil, typ, payload)) }
	hasResults, hasWeather := false, false
	if cur.Context != nil {
		hasResults = len(cur.Context.ToolResults) > 0
		for _, t := range cur.Context.Tools {
			hasWeather = hasWeather || t.Spec.Name == "get_weather"
		}
	}
	switch {
	case hasWeather && !hasResults:
		ev("assistantResponseEvent", `{"content":"Let me check."}`)
		ev("toolUseEvent", `{"name":"get_weather","toolUseId":"tooluse_kiro_1","input":"{\"city\":"}`)
		ev("toolUseEvent", `{"name":"get_weather","toolUseId":"tooluse_kiro_1","input":"\"Paris\"}"}`)
		ev("toolUseEvent", `{"name":"get_weather","toolUseId":"tooluse_kiro_1","stop":true}`)
	case hasResults:
		ev("assistantResponseEvent", `{"content":"It is sunny "}`)
		ev("assistantResponseEvent", `{"content":"in Paris."}`)
	default:
		ev("assistantResponseEvent", `{"content":"Hello"}`)
		ev("assistantResponseEvent", `{"content":" from Kiro."}`)
	}
	ev("meteringEvent", `{"unit":"credit","unitPlural":"credits","usage":0.25}`)
	ev("contextUsageEvent", `{"contextUsagePercentage":1.5}`)
	return out
}
