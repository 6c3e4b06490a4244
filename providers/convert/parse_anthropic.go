package convert

import (
	"github.com/valyala/fastjson"
)

// parseAnthropic reads an Anthropic Messages request.
func parseAnthropic(root *fastjson.Value) (*request, error) {
	r := &request{}
	if sys := root.Get("system"); sys != nil && sys.Type() != fastjson.TypeNull {
		t, err := contentText(sys, "system", "text")
		if err != nil {
			return nil, err
		}
		r.system = append(r.system, t)
	}
	msgs, err := arrayOf(root.Get("messages"))
	if err != nil {
		return nil, fieldErr("messages", "is required and must be an array")
	}
	for i, m := range msgs {
		if err := anthropicMessage(r, m, idx("messages", i)); err != nil {
			return nil, err
		}
	}
	if tv := root.Get("tools"); tv != nil && tv.Type() != fastjson.TypeNull {
		arr, err := tv.Array()
		if err != nil {
			return nil, fieldErr("tools", "must be an array")
		}
		for i, t := range arr {
			f := idx("tools", i)
			if typ := strS(t, "type"); typ != "" && typ != "custom" {
				return nil, fieldErr(f+".type", "server tool %q cannot be carried to this upstream", typ)
			}
			tl := tool{name: strS(t, "name"), description: strS(t, "description")}
			if tl.name == "" {
				return nil, fieldErr(f+".name", "is required")
			}
			if s := t.Get("input_schema"); isType(s, fastjson.TypeObject) {
				tl.params = appendValue(nil, s)
			}
			r.tools = append(r.tools, tl)
		}
	}
	if tc := root.Get("tool_choice"); isType(tc, fastjson.TypeObject) {
		switch t := strS(tc, "type"); t {
		case "auto":
			r.choice = choiceAuto
		case "any":
			r.choice = choiceRequired
		case "none":
			r.choice = choiceNone
		case "tool":
			r.choice, r.choiceName = choiceFunction, strS(tc, "name")
			if r.choiceName == "" {
				return nil, fieldErr("tool_choice.name", "is required")
			}
		default:
			return nil, fieldErr("tool_choice.type", "unknown value %q", t)
		}
		r.noParallel = isType(tc.Get("disable_parallel_tool_use"), fastjson.TypeTrue)
	}
	if err := readSampling(r, root); err != nil {
		return nil, err
	}
	if r.topK, _, err = optInt(root, "top_k", "top_k"); err != nil {
		return nil, err
	}
	if r.maxTokens, _, err = optInt(root, "max_tokens", "max_tokens"); err != nil {
		return nil, err
	}
	if r.stop, err = readStop(root.Get("stop_sequences"), "stop_sequences"); err != nil {
		return nil, err
	}
	if th := root.Get("thinking"); isType(th, fastjson.TypeObject) {
		switch t := strS(th, "type"); t {
		case "enabled":
			b, _, err := optInt(th, "thinking.budget_tokens", "budget_tokens")
			if err != nil {
				return nil, err
			}
			r.budget, r.hasBudget = b, true
		case "adaptive":
			r.budget, r.hasBudget = -1, true
		case "disabled":
			r.budget, r.hasBudget = 0, true
		default:
			return nil, fieldErr("thinking.type", "unknown value %q", t)
		}
	}
	if oc := root.Get("output_config"); isType(oc, fastjson.TypeObject) {
		if e := strS(oc, "effort"); e != "" {
			switch e {
			case "low", "medium", "high":
				r.effort = e
			case "max":
				r.effort = "xhigh"
			default:
				return nil, fieldErr("output_config.effort", "unknown value %q", e)
			}
		}
		if f := oc.Get("format"); isType(f, fastjson.TypeObject) {
			if strS(f, "type") != "json_schema" || f.Get("schema") == nil {
				return nil, fieldErr("output_config.format", "must be a json_schema format with a schema")
			}
			r.format, r.schema = formatJSONSchema, appendValue(nil, f.Get("schema"))
		}
	}
	return r, nil
}

func anthropicMessage(r *request, m *fastjson.Value, f string) error {
	msg := message{}
	switch rn := strS(m, "role"); rn {
	case "system":
		// A system turn inside messages: other protocols take system text
		// apart from the turns, so it joins the system prompt, in order.
		return systemTurn(r, m.Get("content"), f)
	case "user":
		msg.role = roleUser
	case "assistant":
		msg.role = roleAssistant
	default:
		return fieldErr(f+".role", "unsupported role %q", rn)
	}
	content := m.Get("content")
	if content == nil {
		return fieldErr(f+".content", "is required")
	}
	if content.Type() == fastjson.TypeString {
		b, _ := content.StringBytes()
		msg.parts = append(msg.parts, part{kind: partText, text: string(b)})
		r.msgs = append(r.msgs, msg)
		return nil
	}
	blocks, err := content.Array()
	if err != nil {
		return fieldErr(f+".content", "must be a string or an array")
	}
	for i, b := range blocks {
		bf := idx(f+".content", i)
		switch t := strS(b, "type"); t {
		case "text":
			msg.parts = append(msg.parts, part{kind: partText, text: strS(b, "text")})
		case "image":
			p, err := anthropicImage(b, bf)
			if err != nil {
				return err
			}
			msg.parts = append(msg.parts, p)
		case "tool_use":
			p := part{kind: partToolCall, id: strS(b, "id"), name: strS(b, "name")}
			in := b.Get("input")
			if p.id == "" || p.name == "" || !isType(in, fastjson.TypeObject) {
				return fieldErr(bf, "tool_use needs id, name and an object input")
			}
			p.args = appendValue(nil, in)
			msg.parts = append(msg.parts, p)
		case "tool_result":
			p := part{kind: partToolResult, id: strS(b, "tool_use_id"), isError: isType(b.Get("is_error"), fastjson.TypeTrue)}
			if p.id == "" {
				return fieldErr(bf+".tool_use_id", "is required")
			}
			if c := b.Get("content"); c != nil {
				if p.text, err = contentText(c, bf+".content", "text"); err != nil {
					return err
				}
			}
			msg.parts = append(msg.parts, p)
		case "thinking", "redacted_thinking":
			// Signed thinking only means something to Anthropic: dropped.
		default:
			return fieldErr(bf+".type", "content type %q cannot be carried to this upstream", t)
		}
	}
	r.msgs = append(r.msgs, msg)
	return nil
}

func anthropicImage(b *fastjson.Value, f string) (part, error) {
	src := b.Get("source")
	if !isType(src, fastjson.TypeObject) {
		return part{}, fieldErr(f+".source", "is required")
	}
	switch t := strS(src, "type"); t {
	case "base64":
		p := part{kind: partImage, mime: strS(src, "media_type"), data: strS(src, "data")}
		if p.mime == "" || p.data == "" {
			return part{}, fieldErr(f+".source", "base64 source needs media_type and data")
		}
		return p, nil
	case "url":
		u := strS(src, "url")
		if u == "" {
			return part{}, fieldErr(f+".source.url", "is required")
		}
		return imageFromURL(u), nil
	default:
		return part{}, fieldErr(f+".source.type", "image source %q cannot be carried to this upstream", t)
	}
}
