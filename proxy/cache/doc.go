// Package cache is the proxy's exact response cache: the key of a
// request (a hash of its normalised form), the encoding of a stored
// answer (a whole body, or a stream's events with their pace), and the
// stores that keep them: an in-memory LRU bounded in bytes and entries,
// or Redis when several proxy instances share one cache.
//
// "Exact" means a stored answer is reused only for a request that would
// reach the same upstream with the same meaning: same ingress protocol
// and operation, same resolved provider and upstream model, same stream
// mode and framing, the same values of the client headers that reach the
// upstream, the same configuration salt (the provider's settings, the
// system prompt, the catalog), and the same normalised body.
//
// The normalised body is the request's top-level JSON object without the
// members that do not change the answer (see Ignored), its members sorted
// by name and each value in fastjson's compact encoding: whitespace and
// the order of top-level members do not matter, anything else does
// (nested objects keep their order, numbers their spelling).
//
// The client's key is never part of the key: the proxy checks a client's
// access to the provider and model before it looks anything up, and the
// key names the resolved provider and model, so a cached answer can only
// reach a client that was allowed to make the request.
package cache
