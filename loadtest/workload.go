package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/valyala/fastjson"
)

// poolSize is how many distinct bodies a generated workload draws; workers
// rotate through them. Bodies are built before the run, so no request pays
// for JSON encoding.
const poolSize = 64

// maxRequestsFile bounds the lines read from --requests-file.
const maxRequestsFile = 100_000

// turn is one message of a generated conversation: text from the user or
// the assistant, or (with --tools) the assistant's call of the weather tool
// and the tool's result.
type turn struct {
	user   bool
	text   string
	call   bool // the assistant calls toolName with toolArgs
	result bool // the tool's answer, toolResult
}

// The tool of --tools conversations.
const (
	toolName   = "get_weather"
	toolArgs   = `{"city":"Paris"}`
	toolResult = `{"city":"Paris","forecast":"sunny","celsius":21}`
	toolCallID = "call_loadtest_1"
	toolAsk    = "What is the weather in Paris? Use the tool."
)

// toolSchema is the JSON schema of the tool's parameters.
const toolSchema = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`

// buildPool returns the run's request bodies, each as its plain and
// streamed encoding: the lines of --requests-file (recorded requests), or
// bodies generated from --prompt-words, --max-tokens and --turns, or the
// single --body / default body.
func buildPool(c *Config) ([][2][]byte, error) {
	proto := protocols[c.Protocol]
	if proto == nil {
		proto = protocols["chat"]
	}
	switch {
	case c.RequestsFile != "":
		return readRequestsFile(c, proto)
	case c.PromptWords != "" || c.MaxTokens != "" || c.Turns > 1 || c.Tools:
		return generatePool(c, proto)
	}
	src := []byte(proto.defaultBody)
	if c.BodyFile != "" {
		b, err := os.ReadFile(c.BodyFile)
		if err != nil {
			return nil, fmt.Errorf("read --body: %w", err)
		}
		src = b
	}
	b, err := finishBody(c, proto, src, c.BodyFile != "")
	if err != nil {
		return nil, err
	}
	return [][2][]byte{b}, nil
}

// readRequestsFile reads one JSON request body of the run's protocol per
// line; blank lines are skipped.
func readRequestsFile(c *Config, proto *protocol) ([][2][]byte, error) {
	f, err := os.Open(c.RequestsFile)
	if err != nil {
		return nil, fmt.Errorf("read --requests-file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var pool [][2][]byte
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if len(pool) == maxRequestsFile {
			return nil, fmt.Errorf("--requests-file: more than %d requests", maxRequestsFile)
		}
		b, err := finishBody(c, proto, line, true)
		if err != nil {
			return nil, fmt.Errorf("--requests-file line %d: %w", n, err)
		}
		pool = append(pool, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read --requests-file: %w", err)
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("--requests-file %s holds no requests", c.RequestsFile)
	}
	return pool, nil
}

// words are the vocabulary of generated prompts; about one token each.
var words = strings.Fields(`the proxy forwards every request to an upstream model and relays the answer
	token by token while the client waits for the first byte of a stream that may last minutes
	under load with many users asking short and long questions about code data and text`)

// generatePool draws poolSize conversations: --turns messages (user and
// assistant alternating, ending with the user), the last user message
// --prompt-words long, earlier ones a quarter of that, and --max-tokens set
// in the protocol's field.
func generatePool(c *Config, proto *protocol) ([][2][]byte, error) {
	r := rand.New(rand.NewPCG(c.Seed, c.Seed^0x5851f42d4c957f2d))
	promptDist := Dist{Kind: "fixed", A: 8, Min: 1, Max: 200_000}
	if c.PromptWords != "" {
		d, err := parseDist(c.PromptWords, false, 1, 200_000)
		if err != nil {
			return nil, fmt.Errorf("--prompt-words %w", err)
		}
		promptDist = d
	}
	var maxDist *Dist
	if c.MaxTokens != "" {
		d, err := parseDist(c.MaxTokens, false, 1, 1_000_000)
		if err != nil {
			return nil, fmt.Errorf("--max-tokens %w", err)
		}
		maxDist = &d
	}
	turns := max(c.Turns, 1)
	pool := make([][2][]byte, 0, poolSize)
	for range poolSize {
		conv := make([]turn, turns)
		last := int(promptDist.Draw(r))
		for i := range conv {
			// Messages alternate so the last one is the user's.
			conv[i].user = (turns-1-i)%2 == 0
			n := last
			if i < turns-1 {
				n = max(last/4, 1)
			}
			conv[i].text = wordText(r, n)
		}
		if c.Tools {
			// The user asks for the weather, the assistant calls the tool
			// and its result comes back: the model now answers from it.
			if !conv[len(conv)-1].user {
				conv = append(conv, turn{user: true, text: wordText(r, last)})
			}
			conv = append(conv, turn{user: true, text: toolAsk}, turn{call: true}, turn{result: true})
		}
		maxTokens := 0
		if maxDist != nil {
			maxTokens = int(maxDist.Draw(r))
		}
		body := proto.build(conv, maxTokens, c.Tools)
		b, err := finishBody(c, proto, body, false)
		if err != nil {
			return nil, err
		}
		pool = append(pool, b)
	}
	return pool, nil
}

func wordText(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// textMessage is {"role": role, "content": text}.
func textMessage(a *fastjson.Arena, t turn) *fastjson.Value {
	m := a.NewObject()
	role := "assistant"
	if t.user {
		role = "user"
	}
	m.Set("role", a.NewString(role))
	m.Set("content", a.NewString(t.text))
	return m
}

// mustJSON parses a constant of this file.
func mustJSON(a *fastjson.Arena, s string) *fastjson.Value {
	v, err := fastjson.Parse(s)
	if err != nil {
		panic(err)
	}
	return deepCopy(a, v)
}

// deepCopy moves v into a, so it outlives its parser.
func deepCopy(a *fastjson.Arena, v *fastjson.Value) *fastjson.Value {
	switch v.Type() {
	case fastjson.TypeObject:
		o := a.NewObject()
		v.GetObject().Visit(func(k []byte, x *fastjson.Value) { o.Set(string(k), deepCopy(a, x)) })
		return o
	case fastjson.TypeArray:
		arr := a.NewArray()
		for i, x := range v.GetArray() {
			arr.SetArrayItem(i, deepCopy(a, x))
		}
		return arr
	case fastjson.TypeString:
		return a.NewString(string(v.GetStringBytes()))
	case fastjson.TypeNumber:
		return a.NewNumberString(v.String())
	case fastjson.TypeTrue:
		return a.NewTrue()
	case fastjson.TypeFalse:
		return a.NewFalse()
	}
	return a.NewNull()
}

// appendAll puts vs into a new array.
func appendAll(a *fastjson.Arena, vs []*fastjson.Value) *fastjson.Value {
	arr := a.NewArray()
	for i, v := range vs {
		arr.SetArrayItem(i, v)
	}
	return arr
}
