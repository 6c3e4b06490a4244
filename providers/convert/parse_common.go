package convert

import (
	"github.com/valyala/fastjson"
)

// contentText reads content that may be a string or an array of text parts
// (types listed in textTypes), as system prompts and tool results are.
func contentText(v *fastjson.Value, field string, textTypes ...string) (string, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b), nil
	case fastjson.TypeNull:
		return "", nil
	case fastjson.TypeArray:
		a, _ := v.Array()
		var out []byte
		for i, p := range a {
			t := strS(p, "type")
			ok := false
			for _, tt := range textTypes {
				ok = ok || t == tt
			}
			if !ok {
				return "", fieldErr(idx(field, i)+".type", "unsupported content type %q here (text only)", t)
			}
			if len(out) > 0 {
				out = append(out, '\n')
			}
			out = append(out, strB(p, "text")...)
		}
		return string(out), nil
	}
	return "", fieldErr(field, "must be a string or an array of text parts")
}

// imageFromURL makes an image part from a data: URL or a remote URL.
func imageFromURL(u string) part {
	if mime, data, ok := splitDataURL(u); ok {
		return part{kind: partImage, mime: mime, data: data}
	}
	return part{kind: partImage, url: u, mime: mimeFromURL(u)}
}

// readFunctionTools reads Chat's function tools ({"type":"function",
// "function":{...}}).
func readFunctionTools(r *request, root *fastjson.Value) error {
	tv := root.Get("tools")
	if tv == nil || tv.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := tv.Array()
	if err != nil {
		return fieldErr("tools", "must be an array")
	}
	for i, t := range arr {
		f := idx("tools", i)
		if typ := strS(t, "type"); typ != "function" {
			return fieldErr(f+".type", "tool type %q cannot be carried to this upstream (only function tools)", typ)
		}
		fn := t.Get("function")
		if !isType(fn, fastjson.TypeObject) {
			return fieldErr(f+".function", "is required")
		}
		tl, err := readFunction(fn, f+".function")
		if err != nil {
			return err
		}
		r.tools = append(r.tools, tl)
	}
	return nil
}

// readFunction reads one function declaration: name, description and the
// parameters schema (kept as JSON).
func readFunction(fn *fastjson.Value, f string) (tool, error) {
	name := strS(fn, "name")
	if name == "" {
		return tool{}, fieldErr(f+".name", "is required")
	}
	tl := tool{name: name, description: strS(fn, "description")}
	if p := fn.Get("parameters"); p != nil && p.Type() == fastjson.TypeObject {
		tl.params = appendValue(nil, p)
	}
	return tl, nil
}

// readOpenAIChoice reads tool_choice in the Chat (nested) or Responses (flat)
// layout.
func readOpenAIChoice(r *request, root *fastjson.Value, flat bool) error {
	tc := root.Get("tool_choice")
	if tc == nil || tc.Type() == fastjson.TypeNull {
		return nil
	}
	if tc.Type() == fastjson.TypeString {
		b, _ := tc.StringBytes()
		switch string(b) {
		case "auto":
			r.choice = choiceAuto
		case "none":
			r.choice = choiceNone
		case "required":
			r.choice = choiceRequired
		default:
			return fieldErr("tool_choice", "unknown value %q", b)
		}
		return nil
	}
	if strS(tc, "type") != "function" {
		return fieldErr("tool_choice.type", "only function tool choices can be carried")
	}
	name := strS(tc, "name")
	if !flat {
		if fn := tc.Get("function"); fn != nil {
			name = strS(fn, "name")
		}
	}
	if name == "" {
		return fieldErr("tool_choice", "names no function")
	}
	r.choice, r.choiceName = choiceFunction, name
	return nil
}

func readEffort(v *fastjson.Value, field string) (string, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return "", nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", fieldErr(field, "must be a string")
	}
	switch s := string(b); s {
	case "none", "minimal", "low", "medium", "high", "xhigh":
		return s, nil
	}
	return "", fieldErr(field, "unknown reasoning effort %q", b)
}

// readStop reads a stop value that is a string or an array of strings.
func readStop(v *fastjson.Value, field string) ([]string, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	if v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		return []string{string(b)}, nil
	}
	a, err := v.Array()
	if err != nil {
		return nil, fieldErr(field, "must be a string or an array of strings")
	}
	out := make([]string, 0, len(a))
	for i, s := range a {
		b, err := s.StringBytes()
		if err != nil {
			return nil, fieldErr(idx(field, i), "must be a string")
		}
		out = append(out, string(b))
	}
	return out, nil
}

// systemTurn adds the text of a system turn found among the messages (at
// f) to the request's system prompt, after what came before it.
func systemTurn(r *request, content *fastjson.Value, f string) error {
	if content == nil {
		return fieldErr(f+".content", "is required")
	}
	t, err := contentText(content, f+".content", "text")
	if err != nil {
		return err
	}
	r.system = append(r.system, t)
	return nil
}
