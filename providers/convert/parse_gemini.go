package convert

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// parseGemini reads a Gemini generateContent request. Gemini's functionCall
// ids are optional, so calls without one get a synthesized id and each
// functionResponse without one is paired with the oldest unanswered call of
// the same name.
func parseGemini(root *fastjson.Value) (*request, error) {
	r := &request{}
	if v := get(root, "cachedContent", "cached_content"); v != nil {
		return nil, fieldErr("cachedContent", "cached content cannot be carried to this upstream")
	}
	if si := get(root, "systemInstruction", "system_instruction"); isType(si, fastjson.TypeObject) {
		parts, _ := arrayOf(si.Get("parts"))
		for i, p := range parts {
			if p.Get("text") == nil {
				return nil, fieldErr(idx("systemInstruction.parts", i), "only text parts are supported")
			}
			r.system = append(r.system, strS(p, "text"))
		}
	}
	contents, err := arrayOf(root.Get("contents"))
	if err != nil {
		return nil, fieldErr("contents", "is required and must be an array")
	}
	var pending []part // calls awaiting a response, for id pairing
	synth := 0
	for i, c := range contents {
		f := idx("contents", i)
		msg := message{}
		switch rn := strS(c, "role"); rn {
		case "user", "", "function":
			msg.role = roleUser
		case "model":
			msg.role = roleAssistant
		default:
			return nil, fieldErr(f+".role", "unsupported role %q", rn)
		}
		parts, err := arrayOf(c.Get("parts"))
		if err != nil {
			return nil, fieldErr(f+".parts", "is required and must be an array")
		}
		for j, p := range parts {
			pf := idx(f+".parts", j)
			switch {
			case p.Get("text") != nil:
				if isType(p.Get("thought"), fastjson.TypeTrue) {
					continue // thought summaries are not replayable elsewhere
				}
				msg.parts = append(msg.parts, part{kind: partText, text: strS(p, "text")})
			case get(p, "inlineData", "inline_data") != nil:
				d := get(p, "inlineData", "inline_data")
				ip := part{kind: partImage, mime: strS(d, "mimeType") + strS(d, "mime_type"), data: strS(d, "data")}
				if !isImageMime(ip.mime) {
					return nil, fieldErr(pf+".inlineData.mimeType", "only images can be carried to this upstream, got %q", ip.mime)
				}
				msg.parts = append(msg.parts, ip)
			case get(p, "fileData", "file_data") != nil:
				d := get(p, "fileData", "file_data")
				ip := part{kind: partImage, mime: strS(d, "mimeType") + strS(d, "mime_type"), url: strS(d, "fileUri") + strS(d, "file_uri")}
				if ip.url == "" {
					return nil, fieldErr(pf+".fileData.fileUri", "is required")
				}
				if ip.mime == "" {
					ip.mime = mimeFromURL(ip.url)
				}
				if ip.mime != "" && !isImageMime(ip.mime) {
					return nil, fieldErr(pf+".fileData.mimeType", "only images can be carried to this upstream, got %q", ip.mime)
				}
				msg.parts = append(msg.parts, ip)
			case get(p, "functionCall", "function_call") != nil:
				fc := get(p, "functionCall", "function_call")
				cp := part{kind: partToolCall, id: strS(fc, "id"), name: strS(fc, "name")}
				if cp.name == "" {
					return nil, fieldErr(pf+".functionCall.name", "is required")
				}
				if cp.id == "" {
					synth++
					cp.id = "call_" + strconv.Itoa(synth)
				}
				if a := fc.Get("args"); isType(a, fastjson.TypeObject) {
					cp.args = appendValue(nil, a)
				} else {
					cp.args = []byte("{}")
				}
				pending = append(pending, cp)
				msg.parts = append(msg.parts, cp)
			case get(p, "functionResponse", "function_response") != nil:
				fr := get(p, "functionResponse", "function_response")
				rp := part{kind: partToolResult, id: strS(fr, "id"), name: strS(fr, "name")}
				if rp.name == "" {
					return nil, fieldErr(pf+".functionResponse.name", "is required")
				}
				for k := range pending {
					if (rp.id != "" && pending[k].id == rp.id) || (rp.id == "" && pending[k].name == rp.name) {
						rp.id = pending[k].id
						pending = append(pending[:k], pending[k+1:]...)
						break
					}
				}
				if rp.id == "" {
					return nil, fieldErr(pf+".functionResponse", "answers no earlier functionCall named %q", rp.name)
				}
				if resp := fr.Get("response"); resp != nil {
					// {"result":"text"} is how text results are wrapped for
					// Gemini (by us among others): unwrap it back to text.
					if o, _ := resp.Object(); o != nil && o.Len() == 1 && isType(resp.Get("result"), fastjson.TypeString) {
						rp.text = strS(resp, "result")
					} else {
						rp.resultJSON = appendValue(nil, resp)
					}
				} else {
					rp.resultJSON = []byte("{}")
				}
				msg.parts = append(msg.parts, rp)
			default:
				if p.Get("thoughtSignature") != nil || p.Get("thought_signature") != nil {
					continue
				}
				return nil, fieldErr(pf, "part kind cannot be carried to this upstream")
			}
		}
		r.msgs = append(r.msgs, msg)
	}
	if err := geminiTools(r, root); err != nil {
		return nil, err
	}
	if gc := get(root, "generationConfig", "generation_config"); isType(gc, fastjson.TypeObject) {
		if err := geminiGenConfig(r, gc); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func isImageMime(m string) bool { return len(m) > 6 && m[:6] == "image/" }

func geminiTools(r *request, root *fastjson.Value) error {
	if tv := root.Get("tools"); tv != nil && tv.Type() != fastjson.TypeNull {
		arr, err := tv.Array()
		if err != nil {
			return fieldErr("tools", "must be an array")
		}
		for i, t := range arr {
			f := idx("tools", i)
			decls := get(t, "functionDeclarations", "function_declarations")
			o, _ := t.Object()
			if decls == nil || (o != nil && o.Len() != 1) {
				return fieldErr(f, "only functionDeclarations tools can be carried to this upstream")
			}
			da, err := decls.Array()
			if err != nil {
				return fieldErr(f+".functionDeclarations", "must be an array")
			}
			for j, d := range da {
				tl := tool{name: strS(d, "name"), description: strS(d, "description")}
				if tl.name == "" {
					return fieldErr(idx(f+".functionDeclarations", j)+".name", "is required")
				}
				if s := get(d, "parametersJsonSchema", "parameters_json_schema"); isType(s, fastjson.TypeObject) {
					tl.params = appendValue(nil, s)
				} else if s := d.Get("parameters"); isType(s, fastjson.TypeObject) {
					tl.params = appendOpenAPISchema(nil, s)
				}
				r.tools = append(r.tools, tl)
			}
		}
	}
	tc := get(root, "toolConfig", "tool_config")
	if tc == nil {
		return nil
	}
	fcc := get(tc, "functionCallingConfig", "function_calling_config")
	if fcc == nil {
		return nil
	}
	var names []string
	if an := get(fcc, "allowedFunctionNames", "allowed_function_names"); an != nil {
		a, _ := an.Array()
		for _, n := range a {
			b, _ := n.StringBytes()
			names = append(names, string(b))
		}
	}
	switch mode := strS(fcc, "mode"); mode {
	case "", "MODE_UNSPECIFIED", "AUTO":
		r.choice = choiceAuto
	case "NONE":
		r.choice = choiceNone
	case "ANY", "VALIDATED":
		r.choice = choiceRequired
		if len(names) == 1 {
			r.choice, r.choiceName = choiceFunction, names[0]
		} else if len(names) > 1 {
			// "Any of these": keep only the allowed declarations.
			kept := r.tools[:0]
			for _, t := range r.tools {
				for _, n := range names {
					if t.name == n {
						kept = append(kept, t)
						break
					}
				}
			}
			r.tools = kept
		}
	default:
		return fieldErr("toolConfig.functionCallingConfig.mode", "unknown value %q", mode)
	}
	return nil
}

func geminiGenConfig(r *request, gc *fastjson.Value) error {
	var err error
	if r.temperature, r.hasTemp, err = optFloat(gc, "generationConfig.temperature", "temperature"); err != nil {
		return err
	}
	if r.topP, r.hasTopP, err = optFloat(gc, "generationConfig.topP", "topP", "top_p"); err != nil {
		return err
	}
	if r.topK, _, err = optInt(gc, "generationConfig.topK", "topK", "top_k"); err != nil {
		return err
	}
	if r.maxTokens, _, err = optInt(gc, "generationConfig.maxOutputTokens", "maxOutputTokens", "max_output_tokens"); err != nil {
		return err
	}
	if r.n, _, err = optInt(gc, "generationConfig.candidateCount", "candidateCount", "candidate_count"); err != nil {
		return err
	}
	if r.stop, err = readStop(get(gc, "stopSequences", "stop_sequences"), "generationConfig.stopSequences"); err != nil {
		return err
	}
	mime := strS(gc, "responseMimeType") + strS(gc, "response_mime_type")
	switch mime {
	case "", "text/plain":
	case "application/json":
		r.format = formatJSONObject
		if s := get(gc, "responseJsonSchema", "response_json_schema"); isType(s, fastjson.TypeObject) {
			r.format, r.schema = formatJSONSchema, appendValue(nil, s)
		} else if s := get(gc, "responseSchema", "response_schema"); isType(s, fastjson.TypeObject) {
			r.format, r.schema = formatJSONSchema, appendOpenAPISchema(nil, s)
		}
	default:
		return fieldErr("generationConfig.responseMimeType", "%q cannot be carried to this upstream", mime)
	}
	if tc := get(gc, "thinkingConfig", "thinking_config"); isType(tc, fastjson.TypeObject) {
		if b, ok, err := optInt(tc, "generationConfig.thinkingConfig.thinkingBudget", "thinkingBudget", "thinking_budget"); err != nil {
			return err
		} else if ok {
			r.budget, r.hasBudget = b, true
		}
		switch lvl := strS(tc, "thinkingLevel") + strS(tc, "thinking_level"); lvl {
		case "":
		case "MINIMAL", "minimal":
			r.effort = "minimal"
		case "LOW", "low":
			r.effort = "low"
		case "MEDIUM", "medium":
			r.effort = "medium"
		case "HIGH", "high":
			r.effort = "high"
		default:
			return fieldErr("generationConfig.thinkingConfig.thinkingLevel", "unknown value %q", lvl)
		}
	}
	return nil
}
