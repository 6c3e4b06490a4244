package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// parseResponses reads an OpenAI Responses request.
func parseResponses(root *fastjson.Value) (*request, error) {
	r := &request{}
	for _, k := range [...]string{"previous_response_id", "conversation", "prompt"} {
		if v := root.Get(k); v != nil && v.Type() != fastjson.TypeNull {
			return nil, fieldErr(k, "server-side state cannot be carried to this upstream; send the full input")
		}
	}
	if ins := root.Get("instructions"); ins != nil && ins.Type() != fastjson.TypeNull {
		t, err := contentText(ins, "instructions", "input_text")
		if err != nil {
			return nil, err
		}
		r.system = append(r.system, t)
	}
	// Tools first: a replayed call of a namespace member must get the
	// flat name its declaration got.
	if err := readResponsesTools(r, root); err != nil {
		return nil, err
	}
	in := root.Get("input")
	switch {
	case isType(in, fastjson.TypeString):
		b, _ := in.StringBytes()
		r.msgs = append(r.msgs, message{role: roleUser, parts: []part{{kind: partText, text: string(b)}}})
	case isType(in, fastjson.TypeArray):
		items, _ := in.Array()
		for i, it := range items {
			if err := responsesItem(r, it, idx("input", i)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fieldErr("input", "is required and must be a string or an array")
	}
	if err := readOpenAIChoice(r, root, true); err != nil {
		return nil, err
	}
	r.noParallel = isType(root.Get("parallel_tool_calls"), fastjson.TypeFalse)
	if err := readSampling(r, root); err != nil {
		return nil, err
	}
	if n, ok, err := optInt(root, "max_output_tokens", "max_output_tokens"); err != nil {
		return nil, err
	} else if ok {
		r.maxTokens = n
	}
	if tf := root.Get("text", "format"); tf != nil && tf.Type() == fastjson.TypeObject {
		switch strS(tf, "type") {
		case "text", "":
		case "json_object":
			r.format = formatJSONObject
		case "json_schema":
			if tf.Get("schema") == nil {
				return nil, fieldErr("text.format.schema", "is required")
			}
			r.format, r.formatName = formatJSONSchema, strS(tf, "name")
			r.schema = appendValue(nil, tf.Get("schema"))
			r.strict = isType(tf.Get("strict"), fastjson.TypeTrue)
		default:
			return nil, fieldErr("text.format.type", "unsupported type %q", strS(tf, "type"))
		}
	}
	var err error
	if r.effort, err = readEffort(root.Get("reasoning", "effort"), "reasoning.effort"); err != nil {
		return nil, err
	}
	return r, nil
}

func responsesItem(r *request, it *fastjson.Value, f string) error {
	typ := strS(it, "type")
	if typ == "" && it.Get("role") != nil {
		typ = "message"
	}
	switch typ {
	case "message":
		content := it.Get("content")
		if content == nil {
			return fieldErr(f+".content", "is required")
		}
		switch roleName := strS(it, "role"); roleName {
		case "system", "developer":
			t, err := contentText(content, f+".content", "input_text")
			if err != nil {
				return err
			}
			r.system = append(r.system, t)
		case "user":
			msg := message{role: roleUser}
			if err := responsesUserContent(&msg, content, f+".content"); err != nil {
				return err
			}
			r.msgs = append(r.msgs, msg)
		case "assistant":
			t, err := contentText(content, f+".content", "output_text", "input_text", "refusal")
			if err != nil {
				return err
			}
			msg := message{role: roleAssistant}
			if t != "" {
				msg.parts = append(msg.parts, part{kind: partText, text: t})
			}
			r.msgs = append(r.msgs, msg)
		default:
			return fieldErr(f+".role", "unsupported role %q", roleName)
		}
	case "function_call", "custom_tool_call":
		custom := typ == "custom_tool_call"
		p := part{kind: partToolCall, id: strS(it, "call_id"), name: strS(it, "name")}
		if p.id == "" || p.name == "" {
			return fieldErr(f, "%s needs call_id and name", typ)
		}
		p.name = r.callName(strS(it, "namespace"), p.name, custom)
		var err error
		if custom {
			p.args = wire.AppendJSONString(append([]byte(nil), `{"input":`...), strS(it, "input"))
			p.args = append(p.args, '}')
		} else if p.args, err = objectArgs(f+".arguments", strB(it, "arguments")); err != nil {
			return err
		}
		// Consecutive calls belong to one assistant turn.
		if n := len(r.msgs); n > 0 && r.msgs[n-1].role == roleAssistant {
			r.msgs[n-1].parts = append(r.msgs[n-1].parts, p)
		} else {
			r.msgs = append(r.msgs, message{role: roleAssistant, parts: []part{p}})
		}
	case "function_call_output", "custom_tool_call_output":
		id := strS(it, "call_id")
		if id == "" {
			return fieldErr(f+".call_id", "is required")
		}
		out := it.Get("output")
		if out == nil {
			return fieldErr(f+".output", "is required")
		}
		t, err := contentText(out, f+".output", "input_text", "output_text")
		if err != nil {
			return err
		}
		r.msgs = append(r.msgs, message{role: roleUser, parts: []part{{kind: partToolResult, id: id, text: t}}})
	case "reasoning", "additional_tools":
		// Reasoning items are opaque to every other protocol: dropped.
		// Tools added mid-conversation were read with the others.
	default:
		if hostedCallItems[typ] {
			// A hosted tool's call replayed from an earlier turn: only
			// the upstream that ran it could use it.
			return nil
		}
		return fieldErr(f+".type", "input item type %q cannot be carried to this upstream", typ)
	}
	return nil
}

func responsesUserContent(msg *message, content *fastjson.Value, f string) error {
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
		case "input_text":
			msg.parts = append(msg.parts, part{kind: partText, text: strS(p, "text")})
		case "input_image":
			u := strS(p, "image_url")
			if u == "" {
				return fieldErr(pf+".image_url", "is required (file_id images cannot be carried)")
			}
			msg.parts = append(msg.parts, imageFromURL(u))
		default:
			return fieldErr(pf+".type", "content type %q cannot be carried to this upstream", t)
		}
	}
	return nil
}
