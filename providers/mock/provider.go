package mock

import (
	"fmt"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Provider is the in-process mock: it answers like an OpenAI-compatible
// upstream without any network.
type Provider struct {
	name    string
	models  []string
	base    Behaviour
	parsers fastjson.ParserPool
	bufs    sync.Pool
}

// NewProvider returns an in-process mock serving models with behaviour b.
func NewProvider(name string, models []string, b Behaviour) *Provider {
	return &Provider{name: name, models: models, base: b}
}

func (p *Provider) Name() string            { return p.name }
func (p *Provider) Protocol() wire.Protocol { return wire.OpenAIChat }
func (p *Provider) Models() []string        { return p.models }
func (p *Provider) State() providers.State  { return providers.State{Status: "up"} }

// Do answers the call in-process.
func (p *Provider) Do(c *providers.Call) (*providers.Result, error) {
	b := p.base
	if c.Header != nil {
		b.Override(func(k string) []byte { return c.Header.Peek(k) })
	}
	if b.Stall > 0 {
		time.Sleep(b.Stall)
	}
	if c.Op == providers.OpEmbed || c.Op == providers.OpComplete {
		return p.doAux(c)
	}
	parser := p.parsers.Get()
	parsed, err := ParseChat(parser, c.Body)
	p.parsers.Put(parser)
	if err != nil {
		return nil, &providers.Error{Kind: wire.BadGateway, Err: fmt.Errorf("mock: request body: %w", err)}
	}
	if c.Model != "" {
		parsed.Model = c.Model
	}
	a := b.Answer(parsed)
	buf, _ := p.bufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	res := providers.NewResult(func() { *buf = (*buf)[:0]; p.bufs.Put(buf) })
	res.ContentType = contentJSON
	if b.Status != 0 && b.Status != 200 {
		res.Status = b.Status
		*buf = AppendErrorBody((*buf)[:0], b.Status)
		res.Body = *buf
		return res, nil
	}
	res.Status = 200
	if c.Stream {
		res.ContentType = contentSSE
		res.Stream = NewReader(a)
		return res, nil
	}
	*buf = a.AppendCompletion((*buf)[:0])
	res.Body = *buf
	return res, nil
}

var (
	contentJSON = []byte("application/json")
	contentSSE  = []byte("text/event-stream")
)
