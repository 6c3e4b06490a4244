package proxy

import (
	"bytes"
	"crypto/subtle"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/valyala/fasthttp"
)

// missingKeyMessage answers a request that presented no key.
const missingKeyMessage = "missing API key: send it as 'Authorization: Bearer KEY', 'x-api-key' or 'x-goog-api-key' (or '?key=' on Gemini routes)"

// clientKey returns the key the client presented, from any of the places
// the SDKs put it: Authorization: Bearer, x-api-key, x-goog-api-key, and
// ?key= for Gemini routes only (Google's SDKs may use it; elsewhere a key
// in a URL is a key in every log and browser history, and lets a plain
// link or form from a web page authenticate).
func clientKey(ctx *fasthttp.RequestCtx, p wire.Protocol) []byte {
	if v := headerCredential(&ctx.Request.Header); len(v) > 0 {
		return v
	}
	if p != wire.Gemini {
		return nil
	}
	return ctx.QueryArgs().Peek("key")
}

// headerCredential returns the key presented in a request header.
func headerCredential(h *fasthttp.RequestHeader) []byte {
	if v := h.Peek(fasthttp.HeaderAuthorization); len(v) > 0 {
		if len(v) > 7 && bytes.EqualFold(v[:7], []byte("bearer ")) {
			return bytes.TrimSpace(v[7:])
		}
		return bytes.TrimSpace(v)
	}
	if v := h.Peek("X-Api-Key"); len(v) > 0 {
		return v
	}
	return h.Peek("X-Goog-Api-Key")
}

// client is who presented a key: a named client from the config's clients
// list, or an unnamed server.api_keys key.
type client struct {
	key  []byte
	name string
	// models the client may ask for; nil allows every model.
	models map[string]bool
	// vk is the virtual key this client is (nil for config-file keys).
	vk *tenants.Entry
}

// allows reports whether the client may ask for model.
func (c *client) allows(model []byte) bool {
	if c != nil && c.vk != nil {
		return c.vk.AllowsModel(model)
	}
	return c == nil || c.models == nil || c.models[string(model)]
}

// allowsProvider reports whether the client may be routed to provider.
func (c *client) allowsProvider(name string) bool {
	return c == nil || c.vk == nil || c.vk.AllowsProvider(name)
}

// userClient is the RequestCtx user-value key under which auth leaves the
// client it recognised.
const userClient = "proxy.client"

// clientOf returns the authenticated client of a request (nil with auth off).
func clientOf(ctx *fasthttp.RequestCtx) *client {
	c, _ := ctx.UserValue(userClient).(*client)
	return c
}

// clientName is the name logged and counted for a request.
func clientName(c *client) string {
	if c == nil {
		return ""
	}
	return c.name
}

// keyring holds the client keys. Every key is compared on every lookup, in
// constant time, so timing reveals neither a key nor which one matched.
type keyring struct {
	clients []*client
}

// clientKeys is the keyring of a configuration: empty (everyone may
// call) only when server.auth is off.
func clientKeys(cfg *config.Config) *keyring {
	if cfg.Server.Auth == "off" {
		return &keyring{}
	}
	return newKeyring(cfg.Server.APIKeys, cfg.Clients)
}

func newKeyring(apiKeys []string, named []config.Client) *keyring {
	k := &keyring{}
	for _, s := range apiKeys {
		if s != "" {
			k.clients = append(k.clients, &client{key: []byte(s), name: "default"})
		}
	}
	for _, c := range named {
		cl := &client{key: []byte(c.Key), name: c.Name}
		if len(c.Models) > 0 {
			cl.models = make(map[string]bool, len(c.Models))
			for _, m := range c.Models {
				cl.models[m] = true
			}
		}
		k.clients = append(k.clients, cl)
	}
	return k
}

// enabled reports whether clients must authenticate.
func (k *keyring) enabled() bool { return len(k.clients) > 0 }

// lookup returns the client whose key is presented, or nil.
func (k *keyring) lookup(presented []byte) *client {
	match := -1
	for i, c := range k.clients {
		eq := subtle.ConstantTimeCompare(presented, c.key)
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return nil
	}
	return k.clients[match]
}

// valid reports whether presented matches a configured key.
func (k *keyring) valid(presented []byte) bool { return k.lookup(presented) != nil }
