package proxy

import (
	"bytes"
	"crypto/subtle"

	"github.com/valyala/fasthttp"
)

// clientKey returns the key the client presented, from any of the places
// the SDKs put it: Authorization: Bearer, x-api-key, x-goog-api-key, ?key=.
func clientKey(ctx *fasthttp.RequestCtx) []byte {
	h := &ctx.Request.Header
	if v := h.Peek(fasthttp.HeaderAuthorization); len(v) > 0 {
		if len(v) > 7 && bytes.EqualFold(v[:7], []byte("bearer ")) {
			return bytes.TrimSpace(v[7:])
		}
		return bytes.TrimSpace(v)
	}
	if v := h.Peek("X-Api-Key"); len(v) > 0 {
		return v
	}
	if v := h.Peek("X-Goog-Api-Key"); len(v) > 0 {
		return v
	}
	return ctx.QueryArgs().Peek("key")
}

// keyring holds the client keys; comparison takes the same time whichever
// key (if any) matches, so timing reveals nothing about them.
type keyring struct {
	keys [][]byte
}

func newKeyring(keys []string) *keyring {
	k := &keyring{}
	for _, s := range keys {
		if s != "" {
			k.keys = append(k.keys, []byte(s))
		}
	}
	return k
}

// enabled reports whether clients must authenticate.
func (k *keyring) enabled() bool { return len(k.keys) > 0 }

// valid reports whether presented matches a configured key.
func (k *keyring) valid(presented []byte) bool {
	ok := 0
	for _, key := range k.keys {
		ok |= subtle.ConstantTimeCompare(presented, key)
	}
	return ok == 1
}
