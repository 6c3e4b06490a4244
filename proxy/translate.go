package proxy

import (
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
)

// converting adapts a convert.Stream to the relay's Translator: each
// upstream event is rewritten into the client's protocol as it arrives.
type converting struct {
	s         convert.Stream
	heartbeat []byte
}

// arrayHeartbeat keeps an idle Gemini JSON-array stream alive: whitespace
// is valid anywhere between the array's elements.
var arrayHeartbeat = []byte("\n")

func newConverting(from wire.Protocol, x *exchange, model string) *converting {
	c := &converting{heartbeat: stream.Heartbeat}
	c.s.Init(from, x.in, model, x.framing)
	if x.framing == convert.FramingJSONArray {
		c.heartbeat = arrayHeartbeat
	}
	c.s.MapTools(x.tools)
	if x.in == wire.OpenAIChat && !x.includeUsage {
		c.s.OmitUsageChunk()
	}
	return c
}

func (c *converting) PassThrough() bool { return false }
func (c *converting) Done() bool        { return c.s.Done() }
func (c *converting) Heartbeat() []byte { return c.heartbeat }

func (c *converting) Event(dst []byte, ev *stream.Event) ([]byte, error) {
	if len(ev.Data) == 0 {
		return dst, nil // a comment or keep-alive: nothing to convert
	}
	return c.s.Event(dst, ev.Name, ev.Data)
}

func (c *converting) End(dst []byte) ([]byte, error) { return c.s.End(dst) }

func (c *converting) Fail(dst []byte, kind wire.Kind, message string) []byte {
	return c.s.Fail(dst, kind, message)
}
