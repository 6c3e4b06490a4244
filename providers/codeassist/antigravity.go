package codeassist

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Antigravity's rules for the request inside its envelope: no safety
// settings and no output limit (it refuses both), a thinking budget within
// 1024..100000, and a session id derived from the conversation's first
// user text, so that the turns of one conversation share it.
const (
	minThinkingBudget = 1024
	maxThinkingBudget = 100000
)

func antigravityRequest(body []byte) ([]byte, error) {
	var a fastjson.Arena
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	v.Del("safetySettings")
	if gc := v.Get("generationConfig"); gc != nil && gc.Type() == fastjson.TypeObject {
		gc.Del("maxOutputTokens")
		if tc := gc.Get("thinkingConfig"); tc != nil && tc.Type() == fastjson.TypeObject {
			if b := tc.Get("thinkingBudget"); b != nil && b.Type() == fastjson.TypeNumber {
				n := b.GetInt()
				if n > 0 || n < -1 { // -1 is "dynamic", 0 "off": left as they are
					tc.Set("thinkingBudget", a.NewNumberInt(min(max(n, minThinkingBudget), maxThinkingBudget)))
				}
			}
		}
	}
	v.Set("sessionId", a.NewString(sessionID(v)))
	return v.MarshalTo(nil), nil
}

// sessionID is "-" and a positive 63-bit number from the SHA-256 of the
// first user text.
func sessionID(v *fastjson.Value) string {
	first := ""
	for _, c := range arrayOf(v.Get("contents")) {
		role := string(c.GetStringBytes("role"))
		if role != "" && role != "user" {
			continue
		}
		for _, p := range arrayOf(c.Get("parts")) {
			if t := p.GetStringBytes("text"); len(t) > 0 {
				first = string(t)
				break
			}
		}
		if first != "" {
			break
		}
	}
	sum := sha256.Sum256([]byte(first))
	return "-" + strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>1, 10)
}

// antigravityEnvelope is Antigravity's envelope: the model, who asks, the
// kind of request, the project, a request id, and the request.
func antigravityEnvelope(model, project string, body []byte) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	model = strings.TrimPrefix(model, "models/")
	dst := make([]byte, 0, len(body)+len(model)+len(project)+128)
	dst = wire.AppendJSONString(append(dst, `{"model":`...), model)
	dst = append(dst, `,"userAgent":"antigravity","requestType":"agent"`...)
	dst = wire.AppendJSONString(append(dst, `,"project":`...), project)
	dst = wire.AppendJSONString(append(dst, `,"requestId":`...), "agent-"+hex.EncodeToString(id[:]))
	dst = append(append(dst, `,"request":`...), body...)
	return append(dst, '}')
}

// arrayOf is v's elements; none when v is absent or not an array (fastjson
// panics on Array of a nil value).
func arrayOf(v *fastjson.Value) []*fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := v.Array()
	return a
}
