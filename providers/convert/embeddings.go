package convert

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// EmbeddingsToGemini converts an OpenAI embeddings request into a Gemini
// batchEmbedContents body for model (an upstream model name): one request
// per input string, dimensions as outputDimensionality. Token-array inputs
// have no Gemini form and are refused.
func EmbeddingsToGemini(body []byte, model string) ([]byte, error) {
	var p fastjson.Parser
	root, err := parseBody(&p, body)
	if err != nil {
		return nil, err
	}
	path, ok := wire.GeminiModelPath(model)
	if !ok {
		return nil, fieldErr("model", "is not a Gemini model name")
	}
	var texts []*fastjson.Value
	switch in := root.Get("input"); {
	case isType(in, fastjson.TypeString):
		texts = []*fastjson.Value{in}
	case isType(in, fastjson.TypeArray):
		texts, _ = in.Array()
		if len(texts) == 0 {
			return nil, fieldErr("input", "must not be empty")
		}
		for i, t := range texts {
			if t.Type() != fastjson.TypeString {
				return nil, fieldErr(idx("input", i), "token arrays cannot be carried to a Gemini upstream; send text")
			}
		}
	default:
		return nil, fieldErr("input", "is required and must be a string or an array of strings")
	}
	dims, hasDims, err := optInt(root, "dimensions", "dimensions")
	if err != nil {
		return nil, err
	}
	if f := strS(root, "encoding_format"); f != "" && f != "float" && f != "base64" {
		return nil, fieldErr("encoding_format", "must be float or base64, got %q", f)
	}
	dst := make([]byte, 0, len(body)+64*len(texts))
	dst = append(dst, `{"requests":[`...)
	for i, t := range texts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = wire.AppendJSONString(append(dst, `{"model":`...), path)
		b, _ := t.StringBytes()
		dst = wire.AppendJSONString(append(dst, `,"content":{"parts":[{"text":`...), b2s(b))
		dst = append(dst, "}]}"...)
		if hasDims {
			dst = appendInt(append(dst, `,"outputDimensionality":`...), dims)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

// EmbeddingsFromGemini converts a Gemini batchEmbedContents answer into an
// OpenAI embeddings answer naming model (the model the client asked for).
// base64 packs each vector as little-endian float32, as OpenAI does for
// encoding_format "base64". Gemini reports no token usage for embeddings,
// so the answer carries none rather than a made-up count.
func EmbeddingsFromGemini(body []byte, model string, base64Format bool) ([]byte, error) {
	var p fastjson.Parser
	root, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("convert embeddings: upstream body is not JSON: %w", err)
	}
	ev := root.Get("embeddings")
	if !isType(ev, fastjson.TypeArray) {
		return nil, fmt.Errorf("convert embeddings: upstream body has no embeddings array")
	}
	embs, err := ev.Array()
	if err != nil {
		return nil, fmt.Errorf("convert embeddings: upstream body has no embeddings array")
	}
	dst := make([]byte, 0, len(body)+128)
	dst = append(dst, `{"object":"list","data":[`...)
	for i, e := range embs {
		vals := e.Get("values")
		if !isType(vals, fastjson.TypeArray) {
			return nil, fmt.Errorf("convert embeddings: embeddings[%d] has no values", i)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendInt(append(dst, `{"object":"embedding","index":`...), i)
		dst = append(dst, `,"embedding":`...)
		if base64Format {
			if dst, err = appendFloat32Base64(dst, vals); err != nil {
				return nil, fmt.Errorf("convert embeddings: embeddings[%d]: %w", i, err)
			}
		} else {
			dst = vals.MarshalTo(dst) // the upstream's numbers, not re-rounded
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	dst = appendStrField(dst, "model", model)
	return append(dst, '}'), nil
}

func appendFloat32Base64(dst []byte, vals *fastjson.Value) ([]byte, error) {
	a, _ := vals.Array()
	raw := make([]byte, 4*len(a))
	for i, v := range a {
		f, err := v.Float64()
		if err != nil {
			return dst, fmt.Errorf("value %d is not a number", i)
		}
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(f)))
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, raw)
	return append(dst, '"'), nil
}
