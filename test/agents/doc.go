//go:build agents

// Package agents drives the real agent CLIs (Claude Code, Codex CLI and
// Gemini CLI, installed from npm by scripts/install-agents.sh) through the
// proxy to every upstream type, as `make agents` does in CI. Each run has a
// temporary HOME, talks only to loopback, and is killed with its process
// group when it ends or overruns its timeout.
package agents
