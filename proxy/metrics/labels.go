package metrics

import (
	"strconv"
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
)

// Other is the label value every unknown provider, model, ingress or status
// collapses into. Label values are bounded on purpose: a model name comes
// from the client and a label per distinct value would let any client grow
// the proxy's memory and the Prometheus database without limit.
const Other = "other"

// labelSet maps an accepted label value to our own copy of it. Callers may
// pass strings that alias reused request buffers (fasthttp), so series keys
// and label text must never keep the caller's string.
type labelSet map[string]string

func newLabelSet(values []string) labelSet {
	s := make(labelSet, len(values)+1)
	for _, v := range values {
		if v != "" {
			c := strings.Clone(v)
			s[c] = c
		}
	}
	return s
}

func (s labelSet) canon(v string) string {
	if c, ok := s[v]; ok {
		return c
	}
	return Other
}

// knownLabels is swapped whole on reload.
type knownLabels struct {
	providers labelSet
	models    labelSet
}

var ingressLabels = func() labelSet {
	names := make([]string, 0, 4)
	for _, p := range []wire.Protocol{wire.OpenAIChat, wire.OpenAIResponses, wire.Anthropic, wire.Gemini} {
		names = append(names, p.String())
	}
	return newLabelSet(names)
}()

// canonStatus keeps real HTTP statuses and maps anything else (0 for "no
// response") to 0, exported as "other".
func canonStatus(code int) int16 {
	if code < 100 || code > 599 {
		return 0
	}
	return int16(code)
}

func statusLabel(code int16) string {
	if code == 0 {
		return Other
	}
	return strconv.Itoa(int(code))
}

// appendLabel appends name="value" with the exposition format's escapes.
func appendLabel(b []byte, name, value string) []byte {
	if len(b) > 0 {
		b = append(b, ',')
	}
	b = append(b, name...)
	b = append(b, '=', '"')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// labels builds `a="x",b="y"` from name/value pairs.
func labels(kv ...string) string {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = appendLabel(b, kv[i], kv[i+1])
	}
	return string(b)
}
