package convert

import (
	"strconv"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Responses tools other protocols do not have, and how they are carried.
//
// Codex and other Responses clients send three kinds of tool beyond plain
// functions: a "namespace" (a named group of function tools, e.g. the tools
// of one MCP server), a "custom" (freeform) tool whose call carries raw text
// instead of JSON arguments, and hosted tools the upstream runs itself
// (web_search, image_generation, code_interpreter, ...). Tools may also
// arrive mid-conversation in input items of type "additional_tools".
//
// For an upstream of another protocol, namespace members become function
// tools with a flat name (namespace and name joined, made unique), a custom
// tool becomes a function taking one string argument "input", and hosted
// tools are dropped (no other upstream can run them; the proxy logs which).
// The ToolMap kept from the request maps the flat names back, so the
// client gets its calls in its own terms: a function_call with its
// "namespace", or a custom_tool_call with its "input".

// maxToolName is the longest tool name every upstream accepts (OpenAI and
// Anthropic allow 64 characters of [a-zA-Z0-9_-]).
const maxToolName = 64

// ToolMap records how a Responses request's namespace and custom tools
// were renamed for an upstream of another protocol. The zero value maps
// nothing; a nil *ToolMap is valid and maps nothing.
type ToolMap struct {
	aliases []toolAlias
	// Dropped lists the hosted tool types removed from the request because
	// the upstream's protocol has no way to run them, once each.
	Dropped []string
}

type toolAlias struct {
	flat      string // the name the upstream sees
	namespace string // the client's namespace, "" for a top-level tool
	name      string // the client's name within its namespace
	custom    bool   // a freeform tool: arguments are {"input": text}
}

// hostedTools are the Responses tool types an OpenAI upstream runs itself.
var hostedTools = map[string]bool{
	"web_search": true, "web_search_preview": true, "web_search_2025_08_26": true,
	"web_search_preview_2025_03_11": true, "file_search": true, "image_generation": true,
	"code_interpreter": true, "computer_use_preview": true, "computer_use": true,
	"local_shell": true, "mcp": true, "tool_search": true,
}

// hostedCallItems are the output items of hosted tools that a client
// replays in its input history; other upstreams have no use for them.
var hostedCallItems = map[string]bool{
	"web_search_call": true, "file_search_call": true, "image_generation_call": true,
	"code_interpreter_call": true, "computer_call": true, "computer_call_output": true,
	"mcp_list_tools": true, "mcp_call": true, "mcp_approval_request": true,
	"mcp_approval_response": true, "tool_search_call": true, "tool_search_output": true,
}

// customParams is the schema of the function a custom tool becomes.
const customParams = `{"type":"object","properties":{"input":{"type":"string","description":"The tool's raw text input."}},"required":["input"],"additionalProperties":false}`

func (m *ToolMap) empty() bool { return m == nil || (len(m.aliases) == 0 && len(m.Dropped) == 0) }

// byFlat finds the alias of a name the upstream used; nil when the name is
// a plain function tool.
func (m *ToolMap) byFlat(flat string) *toolAlias {
	if m == nil {
		return nil
	}
	for i := range m.aliases {
		if m.aliases[i].flat == flat {
			return &m.aliases[i]
		}
	}
	return nil
}

// byClient finds the alias of a client-side (namespace, name) pair.
func (m *ToolMap) byClient(namespace, name string, custom bool) *toolAlias {
	if m == nil {
		return nil
	}
	for i := range m.aliases {
		a := &m.aliases[i]
		if a.namespace == namespace && a.name == name && a.custom == custom {
			return a
		}
	}
	return nil
}

func (m *ToolMap) drop(typ string) {
	for _, d := range m.Dropped {
		if d == typ {
			return
		}
	}
	m.Dropped = append(m.Dropped, typ)
}

// readResponsesTools reads the tools of a Responses request: the top-level
// list, then those of every additional_tools input item, in order.
func readResponsesTools(r *request, root *fastjson.Value) error {
	if err := readResponsesToolList(r, root.Get("tools"), "tools"); err != nil {
		return err
	}
	var items []*fastjson.Value
	if in := root.Get("input"); isType(in, fastjson.TypeArray) {
		items, _ = in.Array()
	}
	for i, it := range items {
		if strS(it, "type") == "additional_tools" {
			f := idx("input", i) + ".tools"
			if err := readResponsesToolList(r, it.Get("tools"), f); err != nil {
				return err
			}
		}
	}
	return nil
}

func readResponsesToolList(r *request, tv *fastjson.Value, field string) error {
	if tv == nil || tv.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := tv.Array()
	if err != nil {
		return fieldErr(field, "must be an array")
	}
	for i, t := range arr {
		f := idx(field, i)
		switch typ := strS(t, "type"); {
		case typ == "function":
			if err := addFunctionTool(r, t, f, ""); err != nil {
				return err
			}
		case typ == "namespace":
			if err := addNamespace(r, t, f); err != nil {
				return err
			}
		case typ == "custom":
			if err := addCustomTool(r, t, f, ""); err != nil {
				return err
			}
		case hostedTools[typ]:
			r.toolMap().drop(typ)
		default:
			return fieldErr(f+".type", "tool type %q cannot be carried to this upstream", typ)
		}
	}
	return nil
}

func addNamespace(r *request, t *fastjson.Value, f string) error {
	ns := strS(t, "name")
	if ns == "" {
		return fieldErr(f+".name", "is required")
	}
	mv := t.Get("tools")
	if !isType(mv, fastjson.TypeArray) {
		return fieldErr(f+".tools", "is required and must be an array")
	}
	members, err := mv.Array()
	if err != nil {
		return fieldErr(f+".tools", "is required and must be an array")
	}
	for j, m := range members {
		mf := idx(f+".tools", j)
		switch typ := strS(m, "type"); typ {
		case "function":
			err = addFunctionTool(r, m, mf, ns)
		case "custom":
			err = addCustomTool(r, m, mf, ns)
		default:
			err = fieldErr(mf+".type", "tool type %q cannot be carried to this upstream inside a namespace", typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func addFunctionTool(r *request, fn *fastjson.Value, f, namespace string) error {
	tl, err := readFunction(fn, f)
	if err != nil {
		return err
	}
	if namespace != "" {
		tl.name = r.alias(namespace, tl.name, false)
	}
	if r.hasTool(tl.name) {
		return nil // declared again (top level and additional_tools): keep one
	}
	r.tools = append(r.tools, tl)
	return nil
}

func addCustomTool(r *request, t *fastjson.Value, f, namespace string) error {
	name := strS(t, "name")
	if name == "" {
		return fieldErr(f+".name", "is required")
	}
	flat := r.alias(namespace, name, true)
	if r.hasTool(flat) {
		return nil
	}
	desc := strS(t, "description")
	if fv := t.Get("format"); fv != nil && strS(fv, "type") == "grammar" {
		// The grammar constrains the model's text; other upstreams cannot
		// enforce it, so it is described instead.
		desc += "\n\nThe input must follow this " + strS(fv, "syntax") + " grammar:\n" + strS(fv, "definition")
	}
	r.tools = append(r.tools, tool{name: flat, description: desc, params: []byte(customParams)})
	return nil
}

func (r *request) toolMap() *ToolMap {
	if r.tmap == nil {
		r.tmap = &ToolMap{}
	}
	return r.tmap
}

func (r *request) hasTool(name string) bool {
	for i := range r.tools {
		if r.tools[i].name == name {
			return true
		}
	}
	return false
}

// alias gives a namespace member or custom tool the flat name the upstream
// sees, the same one each time it is asked for.
func (r *request) alias(namespace, name string, custom bool) string {
	m := r.toolMap()
	if a := m.byClient(namespace, name, custom); a != nil {
		return a.flat
	}
	flat := flatName(namespace, name)
	for n := 2; r.hasTool(flat) || m.byFlat(flat) != nil; n++ {
		flat = clip(flatName(namespace, name), maxToolName-len(strconv.Itoa(n))-1) + "_" + strconv.Itoa(n)
	}
	m.aliases = append(m.aliases, toolAlias{flat: flat, namespace: namespace, name: name, custom: custom})
	return flat
}

// flatName joins a namespace and a member name the way MCP clients name
// server tools ("server__tool"), within the length every upstream takes.
func flatName(namespace, name string) string {
	if namespace == "" {
		return clip(name, maxToolName)
	}
	sep := "__"
	if n := len(namespace); n >= 2 && namespace[n-2:] == "__" {
		sep = "" // Codex names MCP namespaces "mcp__server__" already
	}
	return clip(namespace+sep+name, maxToolName)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// callName is the upstream name of a function_call the client replays:
// a namespace member's flat name, or the name itself.
func (r *request) callName(namespace, name string, custom bool) string {
	if namespace == "" && !custom {
		return name
	}
	return r.alias(namespace, name, custom)
}

// appendCallItem writes the fields of a Responses output item for a call
// the upstream named flat, after its "id": a function_call (with its
// namespace when it was a member of one) or a custom_tool_call whose input
// is the "input" argument. dst ends with the item's closing brace.
func appendCallItem(dst []byte, status string, callID, flat string, args []byte, tm *ToolMap) []byte {
	a := tm.byFlat(flat)
	if a != nil && a.custom {
		dst = append(dst, `,"type":"custom_tool_call","status":`...)
		dst = wire.AppendJSONString(dst, status)
		dst = wire.AppendJSONString(append(dst, `,"call_id":`...), callID)
		if a.namespace != "" {
			dst = appendStrField(dst, "namespace", a.namespace)
		}
		dst = appendStrField(dst, "name", a.name)
		dst = appendStrField(dst, "input", customInput(args))
		return append(dst, '}')
	}
	dst = append(dst, `,"type":"function_call","status":`...)
	dst = wire.AppendJSONString(dst, status)
	dst = wire.AppendJSONString(append(dst, `,"call_id":`...), callID)
	name := flat
	if a != nil {
		dst = appendStrField(dst, "namespace", a.namespace)
		name = a.name
	}
	dst = appendStrField(dst, "name", name)
	dst = appendStrField(dst, "arguments", b2s(args))
	return append(dst, '}')
}

// isCustom reports whether the upstream's call of flat is a custom tool's.
func (m *ToolMap) isCustom(flat []byte) bool {
	a := m.byFlat(b2s(flat))
	return a != nil && a.custom
}

// customInput is the text a custom tool's call carries: the "input"
// argument the function it became was given (the raw arguments when a
// model answered something else).
func customInput(args []byte) string {
	var p fastjson.Parser
	v, err := p.ParseBytes(args)
	if err != nil || v.Type() != fastjson.TypeObject {
		return string(args)
	}
	in := v.Get("input")
	if in == nil {
		return string(args)
	}
	if b, err := in.StringBytes(); err == nil {
		return string(b)
	}
	return string(in.MarshalTo(nil))
}
