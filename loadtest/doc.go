// Package loadtest is the built-in load generator behind `proxy loadtest`.
//
// It drives an OpenAI-compatible Chat Completions endpoint in a closed loop
// (N users, each waiting for its answer) or an open loop (a fixed arrival
// rate, constant or Poisson), records latencies in per-worker HDR
// histograms that are merged for reporting, parses SSE streams on the fly
// without keeping bodies, samples the resources of the process under test
// and writes text, JSON and self-contained HTML reports. See README.md for
// the definition of every metric and the JSON schema.
package loadtest
