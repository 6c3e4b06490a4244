package tokencount

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/tiktoken-go/tokenizer/codec"
	"github.com/valyala/fastjson"
)

// Counter counts request bodies. Its zero value is ready to use: the o200k
// vocabulary (a map of 200k entries, about 13 MB of RSS and 70 ms to build)
// is loaded on the first count, so a proxy that never counts never pays.
type Counter struct {
	once    sync.Once
	codec   *codec.Codec
	parsers fastjson.ParserPool
	tallies sync.Pool
}

// load builds the codec once. It names the o200k codec directly rather
// than through tokenizer.Get, so the linker leaves out the other
// encodings' vocabularies (each is megabytes of map literal).
func (c *Counter) load() {
	c.once.Do(func() { c.codec = codec.NewO200kBase() })
}

// Count returns the input tokens of body, a request of protocol p, as a
// model of family f would count them. The body must be a JSON object; the
// proxy has checked its shape before routing.
func (c *Counter) Count(p wire.Protocol, f Family, body []byte) (int, error) {
	c.load()
	parser := c.parsers.Get()
	defer c.parsers.Put(parser)
	v, err := parser.ParseBytes(body)
	if err != nil {
		return 0, fmt.Errorf("tokencount: body is not JSON: %w", err)
	}
	t, _ := c.tallies.Get().(*tally)
	if t == nil {
		t = &tally{scratch: make([]byte, 0, 1024)}
	}
	t.reset(c.codec, f)
	switch p {
	case wire.Anthropic:
		t.anthropic(v)
	case wire.Gemini:
		t.gemini(v)
	case wire.OpenAIResponses:
		t.responses(v)
	default:
		t.chat(v)
	}
	n := t.total()
	c.tallies.Put(t)
	return n, nil
}

// tally accumulates one count: text tokens, scaled to the family at the
// end, and fixed tokens (framing, images) that are not.
type tally struct {
	codec   *codec.Codec
	family  Family
	frame   framing
	text    int
	fixed   int
	tools   int // function tools seen, for the per-request tool framing
	scratch []byte
	img     []byte
}

func (t *tally) reset(c *codec.Codec, f Family) {
	t.codec, t.family, t.frame = c, f, f.framing()
	t.text, t.fixed, t.tools = 0, 0, 0
}

func (t *tally) total() int {
	n := t.family.scale(t.text) + t.fixed
	if t.tools > 0 {
		n += t.family.toolsFraming()
	}
	return n
}

// count adds the tokens of b as text.
func (t *tally) count(b []byte) {
	if len(b) == 0 {
		return
	}
	// The codec takes a string; b lives in the parser's buffer, which is
	// not changed while it is counted, so a copy would be only garbage.
	n, _ := t.codec.Count(unsafe.String(unsafe.SliceData(b), len(b)))
	t.text += n
}

// str counts a string value; other types count nothing.
func (t *tally) str(v *fastjson.Value) {
	if v != nil && v.Type() == fastjson.TypeString {
		t.count(v.GetStringBytes())
	}
}

// raw counts a value as the JSON text the model sees (tool arguments,
// schemas).
func (t *tally) raw(v *fastjson.Value) {
	if v == nil {
		return
	}
	if v.Type() == fastjson.TypeString {
		t.str(v)
		return
	}
	t.scratch = v.MarshalTo(t.scratch[:0])
	t.count(t.scratch)
}

// message adds the framing of one message of the given role.
func (t *tally) message(role []byte) {
	t.fixed += t.frame.perMessage
	if t.frame.role {
		t.count(role)
	}
}

// replyPrimer adds the tokens that open the model's answer.
func (t *tally) replyPrimer() { t.fixed += t.frame.reply }

// image adds one image: data is its base64 (or data: URL), empty when the
// image is a link or a file.
func (t *tally) image(data []byte, lowDetail bool) {
	var w, h int
	if len(data) > 0 {
		if t.img == nil {
			t.img = make([]byte, headerBytes)
		}
		w, h = imageSize(data, t.img)
	}
	t.fixed += t.family.imageTokens(w, h, lowDetail)
}
