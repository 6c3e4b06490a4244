// Package mock imitates an OpenAI-compatible upstream: a deterministic
// answer of configurable length, streamed with a configurable delay between
// chunks. It serves in-process (the "mock" provider type, no network) and as
// a standalone fasthttp server (`proxy mock-upstream`) for tests, benchmarks
// and the load tester.
package mock
