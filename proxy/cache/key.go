package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Key identifies one cached answer: the SHA-256 of a request's normalised
// form. A fixed-size array, so that a map lookup by it allocates nothing.
type Key [sha256.Size]byte

// String is the key in hex (the Redis key's suffix).
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// keyVersion starts every key's input: a change to what goes into a key
// changes it, so entries written by an older proxy are never read as
// answers to a differently normalised request.
const keyVersion = 1

// Ignored lists the top-level body members that do not change the answer
// and are left out of the key: the model (the resolved upstream model is
// keyed instead, so two aliases of one model share entries), the stream
// flag (keyed separately, from the request as the proxy reads it), and
// identifiers, metadata and storage or prompt-caching hints for the
// upstream's own bookkeeping.
var Ignored = []string{
	"model", "stream", "user", "metadata", "store", "safety_identifier",
	"prompt_cache_key", "prompt_cache_retention",
}

// stateful lists the members that make an answer depend on state kept by
// the upstream for one account (a stored conversation, a background job):
// such a request is never cached.
var stateful = []string{"previous_response_id", "conversation", "background"}

// Builder assembles the normalised form of one request and hashes it.
// The zero value is ready; Reset readies it for the next request while
// keeping its buffer.
type Builder struct {
	buf []byte
	mem []member
}

type member struct {
	k []byte
	v *fastjson.Value
}

// Reset empties the builder, keeping its buffers.
func (b *Builder) Reset() {
	b.buf = append(b.buf[:0], keyVersion)
	b.mem = b.mem[:0]
}

// Cap is the capacity of the builder's buffer, for a pool that should not
// keep one grown by a very large body.
func (b *Builder) Cap() int { return cap(b.buf) }

// Field adds one named part of the request (protocol, provider, model, a
// header's value...). Each part is length-prefixed, so no two different
// sequences of parts give the same input.
func (b *Builder) Field(name string, value []byte) {
	b.buf = binary.AppendUvarint(b.buf, uint64(len(name)))
	b.buf = append(b.buf, name...)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
	b.buf = append(b.buf, value...)
}

// FieldString is Field with a string value.
func (b *Builder) FieldString(name, value string) {
	b.buf = binary.AppendUvarint(b.buf, uint64(len(name)))
	b.buf = append(b.buf, name...)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
	b.buf = append(b.buf, value...)
}

// Body adds the normalised body: the members of the top-level object but
// the Ignored ones, sorted by name, each value compactly encoded. It
// reports false for a body that is not an object.
func (b *Builder) Body(v *fastjson.Value) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ignored(k) {
			b.mem = append(b.mem, member{k: k, v: v})
		}
	})
	sortMembers(b.mem)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(b.mem)))
	for _, m := range b.mem {
		b.buf = binary.AppendUvarint(b.buf, uint64(len(m.k)))
		b.buf = append(b.buf, m.k...)
		// A value's own encoding is self-delimiting JSON.
		b.buf = m.v.MarshalTo(b.buf)
	}
	clear(b.mem) // drop the references into the parser's memory
	b.mem = b.mem[:0]
	return true
}

// Sum is the key of everything added.
func (b *Builder) Sum() Key { return sha256.Sum256(b.buf) }

func ignored(k []byte) bool {
	for _, name := range Ignored {
		if string(k) == name {
			return true
		}
	}
	return false
}

// sortMembers sorts by name; bodies have tens of members at most, for
// which an insertion sort is quick and allocates nothing.
func sortMembers(m []member) {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && string(m[j].k) < string(m[j-1].k); j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

// Stateful reports whether the request refers to state the upstream keeps
// for one account (previous_response_id, conversation, background): its
// answer cannot be reused.
func Stateful(v *fastjson.Value) bool {
	for _, name := range stateful {
		if m := v.Get(name); m != nil && m.Type() != fastjson.TypeNull && m.Type() != fastjson.TypeFalse {
			return true
		}
	}
	return false
}

// Sampled reports whether the request asks for a sampled (non-greedy)
// answer, which a cache would freeze: a temperature above 0, or none at
// all, since every supported protocol defaults to one above 0 (OpenAI
// Chat, Responses and completions 1, Anthropic 1.0, Gemini the model's
// default, 1.0 for current models). A temperature that is not a number
// counts as sampled.
func Sampled(in wire.Protocol, v *fastjson.Value) bool {
	var t *fastjson.Value
	if in == wire.Gemini {
		t = v.Get("generationConfig", "temperature")
	} else {
		t = v.Get("temperature")
	}
	if t == nil || t.Type() != fastjson.TypeNumber {
		return true
	}
	f, err := t.Float64()
	return err != nil || f > 0
}
