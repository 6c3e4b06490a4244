package mock

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// EmbeddingDims is the length of the mock's embedding vectors.
const EmbeddingDims = 8

// Embedding is the mock's vector for text: deterministic (a hash of the
// text spread over EmbeddingDims values) and of unit length, so equal texts
// get equal vectors and a client's cosine similarity is well defined.
func Embedding(text string) [EmbeddingDims]float64 {
	var v [EmbeddingDims]float64
	var norm float64
	for i := range v {
		h := fnv.New64a()
		h.Write([]byte{byte(i)})
		h.Write([]byte(text))
		v[i] = float64(int64(h.Sum64()>>11))/float64(1<<52) - 1
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] /= norm
	}
	return v
}

// appendEmbeddings answers an OpenAI embeddings request: one vector per
// input string, usage counted as one token per four bytes of input.
func appendEmbeddings(dst []byte, body []byte, model string) ([]byte, error) {
	var p fastjson.Parser
	root, err := p.ParseBytes(body)
	if err != nil {
		return dst, fmt.Errorf("mock: embeddings body: %w", err)
	}
	in := root.Get("input")
	var texts []*fastjson.Value
	switch {
	case in != nil && in.Type() == fastjson.TypeString:
		texts = []*fastjson.Value{in}
	case in != nil && in.Type() == fastjson.TypeArray:
		texts, _ = in.Array()
	default:
		return dst, fmt.Errorf("mock: embeddings input must be a string or an array")
	}
	tokens := 0
	dst = append(dst, `{"object":"list","data":[`...)
	for i, t := range texts {
		if i > 0 {
			dst = append(dst, ',')
		}
		text := string(t.MarshalTo(nil))
		if b, err := t.StringBytes(); err == nil {
			text = string(b)
		}
		tokens += len(text)/4 + 1
		dst = strconv.AppendInt(append(dst, `{"object":"embedding","index":`...), int64(i), 10)
		dst = append(dst, `,"embedding":[`...)
		for j, x := range Embedding(text) {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendFloat(dst, x, 'g', 8, 64)
		}
		dst = append(dst, "]}"...)
	}
	dst = wire.AppendJSONString(append(dst, `],"model":`...), model)
	dst = strconv.AppendInt(append(dst, `,"usage":{"prompt_tokens":`...), int64(tokens), 10)
	dst = strconv.AppendInt(append(dst, `,"total_tokens":`...), int64(tokens), 10)
	return append(dst, "}}"...), nil
}

// doAux answers the operations other than generation: embeddings, and a
// clear refusal of the rest (the mock has no legacy completions).
func (p *Provider) doAux(c *providers.Call) (*providers.Result, error) {
	if c.Op != providers.OpEmbed {
		return providers.ErrorResult(wire.OpenAIChat, 404, wire.NotFound, "the mock upstream serves chat completions and embeddings only"), nil
	}
	body, err := appendEmbeddings(nil, c.Body, c.Model)
	if err != nil {
		return nil, &providers.Error{Kind: wire.BadGateway, Err: err}
	}
	res := providers.NewResult(nil)
	res.Status = 200
	res.ContentType = contentJSON
	res.Body = body
	return res, nil
}
