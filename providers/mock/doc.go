// Package mock imitates an LLM upstream: a deterministic answer of
// configurable length (or, when asked for, two parallel tool calls),
// streamed with a configurable delay between chunks. It serves in-process
// (the "mock" provider type, OpenAI Chat, no network) and as a standalone
// fasthttp server (`proxy mock-upstream`) that speaks all four protocols
// (OpenAI Chat and Responses, Anthropic Messages, Gemini) for tests,
// benchmarks and the load tester. A request can also script its answer (see
// Script), which lets tests drive real agent CLIs through a tool loop.
package mock
