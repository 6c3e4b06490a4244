package convert

import (
	"github.com/valyala/fastjson"
)

// parseChat reads an OpenAI Chat Completions request.
func parseChat(root *fastjson.Value) (*request, error) {
	r := &request{}
	msgs, err := arrayOf(root.Get("messages"))
	if err != nil {
		return nil, fieldErr("messages", "is required and must be an array")
	}
	for i, m := range msgs {
		f := idx("messages", i)
		if err := chatMessage(r, m, f); err != nil {
			return nil, err
		}
	}
	if err := readFunctionTools(r, root); err != nil {
		return nil, err
	}
	if err := readOpenAIChoice(r, root, false); err != nil {
		return nil, err
	}
	r.noParallel = isType(root.Get("parallel_tool_calls"), fastjson.TypeFalse)
	if err := readSampling(r, root); err != nil {
		return nil, err
	}
	if n, ok, err := optInt(root, "max_completion_tokens", "max_completion_tokens", "max_tokens"); err != nil {
		return nil, err
	} else if ok {
		r.maxTokens = n
	}
	if n, ok, err := optInt(root, "n", "n"); err != nil {
		return nil, err
	} else if ok {
		r.n = n
	}
	if r.stop, err = readStop(root.Get("stop"), "stop"); err != nil {
		return nil, err
	}
	if rf := root.Get("response_format"); rf != nil && rf.Type() == fastjson.TypeObject {
		switch strS(rf, "type") {
		case "text", "":
		case "json_object":
			r.format = formatJSONObject
		case "json_schema":
			js := rf.Get("json_schema")
			if js == nil || js.Get("schema") == nil {
				return nil, fieldErr("response_format.json_schema.schema", "is required")
			}
			r.format, r.formatName = formatJSONSchema, strS(js, "name")
			r.schema = appendValue(nil, js.Get("schema"))
			r.strict = isType(js.Get("strict"), fastjson.TypeTrue)
		default:
			return nil, fieldErr("response_format.type", "unsupported type %q", strS(rf, "type"))
		}
	}
	if r.effort, err = readEffort(root.Get("reasoning_effort"), "reasoning_effort"); err != nil {
		return nil, err
	}
	return r, nil
}

// readSampling reads temperature and top_p as OpenAI spells them.
func readSampling(r *request, root *fastjson.Value) error {
	var err error
	if r.temperature, r.hasTemp, err = optFloat(root, "temperature", "temperature"); err != nil {
		return err
	}
	r.topP, r.hasTopP, err = optFloat(root, "top_p", "top_p")
	return err
}

func chatMessage(r *request, m *fastjson.Value, f string) error {
	content := m.Get("content")
	switch roleName := strS(m, "role"); roleName {
	case "system", "developer":
		if err := systemTurn(r, content, f); err != nil {
			return err
		}
	case "user":
		if content == nil {
			return fieldErr(f+".content", "is required")
		}
		msg := message{role: roleUser}
		if err := chatUserContent(&msg, content, f+".content"); err != nil {
			return err
		}
		r.msgs = append(r.msgs, msg)
	case "assistant":
		msg := message{role: roleAssistant}
		if content != nil && content.Type() != fastjson.TypeNull {
			t, err := contentText(content, f+".content", "text", "refusal")
			if err != nil {
				return err
			}
			if t != "" {
				msg.parts = append(msg.parts, part{kind: partText, text: t})
			}
		}
		if m.Get("function_call") != nil && m.Get("function_call").Type() != fastjson.TypeNull {
			return fieldErr(f+".function_call", "legacy function_call is not supported; use tool_calls")
		}
		if tc := m.Get("tool_calls"); tc != nil && tc.Type() != fastjson.TypeNull {
			calls, err := tc.Array()
			if err != nil {
				return fieldErr(f+".tool_calls", "must be an array")
			}
			for j, c := range calls {
				cf := idx(f+".tool_calls", j)
				fn := c.Get("function")
				if !isType(fn, fastjson.TypeObject) {
					return fieldErr(cf+".function", "is required")
				}
				p := part{kind: partToolCall, id: strS(c, "id"), name: strS(fn, "name")}
				if p.id == "" || p.name == "" {
					return fieldErr(cf, "needs an id and a function name")
				}
				if p.args, err = objectArgs(cf+".function.arguments", strB(fn, "arguments")); err != nil {
					return err
				}
				msg.parts = append(msg.parts, p)
			}
		}
		r.msgs = append(r.msgs, msg)
	case "tool":
		id := strS(m, "tool_call_id")
		if id == "" {
			return fieldErr(f+".tool_call_id", "is required")
		}
		if content == nil {
			return fieldErr(f+".content", "is required")
		}
		t, err := contentText(content, f+".content", "text")
		if err != nil {
			return err
		}
		r.msgs = append(r.msgs, message{role: roleUser, parts: []part{{kind: partToolResult, id: id, text: t}}})
	default:
		return fieldErr(f+".role", "unsupported role %q", roleName)
	}
	return nil
}

func chatUserContent(msg *message, content *fastjson.Value, f string) error {
	switch content.Type() {
	case fastjson.TypeString:
		b, _ := content.StringBytes()
		msg.parts = append(msg.parts, part{kind: partText, text: string(b)})
		return nil
	case fastjson.TypeArray:
	default:
		return fieldErr(f, "must be a string or an array")
	}
	a, _ := content.Array()
	for i, p := range a {
		pf := idx(f, i)
		switch t := strS(p, "type"); t {
		case "text":
			msg.parts = append(msg.parts, part{kind: partText, text: strS(p, "text")})
		case "image_url":
			iu := p.Get("image_url")
			u := ""
			if isType(iu, fastjson.TypeString) {
				b, _ := iu.StringBytes()
				u = string(b)
			} else if iu != nil {
				u = strS(iu, "url")
			}
			if u == "" {
				return fieldErr(pf+".image_url.url", "is required")
			}
			msg.parts = append(msg.parts, imageFromURL(u))
		default:
			return fieldErr(pf+".type", "content type %q cannot be carried to this upstream", t)
		}
	}
	return nil
}
