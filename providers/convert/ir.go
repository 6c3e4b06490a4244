package convert

// The protocol-neutral model every conversion passes through. Parsers fill it
// from one protocol's body; writers render it in another's.

type role uint8

const (
	roleUser role = iota
	roleAssistant
)

type partKind uint8

const (
	partText partKind = iota
	partImage
	partToolCall
	partToolResult
	partThinking
)

// part is one piece of a turn. Which fields matter depends on kind.
type part struct {
	kind partKind
	text string // text, thinking, or a tool result given as text

	// image: either mime+data (base64) or url.
	mime, data, url string

	// tool call / tool result
	id, name   string
	args       []byte // tool call arguments: a JSON object
	resultJSON []byte // tool result given as a JSON value (Gemini)
	isError    bool
}

type message struct {
	role  role
	parts []part
}

type tool struct {
	name, description string
	params            []byte // JSON Schema, nil when absent
}

type choiceMode uint8

const (
	choiceUnset choiceMode = iota
	choiceAuto
	choiceNone
	choiceRequired
	choiceFunction
)

type formatKind uint8

const (
	formatNone formatKind = iota
	formatJSONObject
	formatJSONSchema
)

// request is a chat request independent of protocol.
type request struct {
	system []string
	msgs   []message
	tools  []tool

	choice     choiceMode
	choiceName string
	noParallel bool // client asked for at most one tool call per turn

	temperature, topP float64
	hasTemp, hasTopP  bool
	topK              int
	maxTokens         int
	stop              []string
	n                 int

	format     formatKind
	formatName string
	schema     []byte
	strict     bool

	// effort is a normalized reasoning effort: "", none, minimal, low,
	// medium, high, xhigh. budget is a thinking token budget (Anthropic
	// enabled, Gemini thinkingBudget); -1 means dynamic/adaptive.
	effort    string
	budget    int
	hasBudget bool

	// outCap is the target model's largest answer (0: unknown), which a
	// max_tokens the writer derives must not pass.
	outCap int

	// tmap: how Responses namespace and custom tools were renamed; nil
	// when none were.
	tmap *ToolMap
}

type finish uint8

const (
	finishNone finish = iota
	finishStop
	finishLength
	finishTools
	finishFilter
)

// usage counts tokens the way OpenAI does: in includes cached and
// cache-creation tokens, out includes reasoning tokens.
type usage struct {
	in, cached, cacheCreation, out, reasoning int
	known                                     bool
}

// choice is one generated candidate of a non-stream response.
type choice struct {
	parts   []part // text, thinking (text+data as signature) and tool calls
	finish  finish
	stopSeq string
}

// response is a non-stream completion independent of protocol.
type response struct {
	id      string
	choices []choice
	usage   usage
}

func (c *choice) hasToolCalls() bool {
	for i := range c.parts {
		if c.parts[i].kind == partToolCall {
			return true
		}
	}
	return false
}

// effortFromBudget maps a thinking token budget to an OpenAI effort level.
func effortFromBudget(b int) string {
	switch {
	case b < 0:
		return "medium"
	case b == 0:
		return ""
	case b <= 2048:
		return "low"
	case b <= 8192:
		return "medium"
	}
	return "high"
}

// budgetFromEffort maps an OpenAI effort level to a thinking token budget
// (0 = off). The levels follow the budgets the Gemini and Anthropic docs use
// in their own examples for light, moderate and deep thinking.
func budgetFromEffort(e string) int {
	switch e {
	case "minimal":
		return 512
	case "low":
		return 1024
	case "medium":
		return 8192
	case "high":
		return 24576
	case "xhigh":
		return 32768
	}
	return 0
}

// keptMessages lists the indexes of the messages that have at least one
// part the target protocol keeps: the others vanish from its history
// (Anthropic and Gemini reject empty turns).
func keptMessages(r *request, keep func(*part) bool) []int {
	kept := make([]int, 0, len(r.msgs))
	for i := range r.msgs {
		for k := range r.msgs[i].parts {
			if keep(&r.msgs[i].parts[k]) {
				kept = append(kept, i)
				break
			}
		}
	}
	return kept
}
