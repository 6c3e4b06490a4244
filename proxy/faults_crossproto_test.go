package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/faults"
	"github.com/llmproxy/proxy/proxy/config"
)

// anthropicUpstream answers /v1/messages with a short Anthropic answer,
// streamed or whole.
func anthropicUpstream(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	return startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/messages" || !strings.Contains(string(b), `"model":"claude-m"`) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if !strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-m","content":[{"type":"text","text":"from claude"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`,
			`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"from "}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"claude"}}`,
			`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}`,
			`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
		} {
			_, _ = io.WriteString(w, ev+"\n\n")
		}
	})), calls
}

// TestFailoverAcrossProtocols: an OpenAI model whose provider fails is
// served by its fallback on an Anthropic upstream, converted back into the
// OpenAI answer the client asked for, streamed and whole.
func TestFailoverAcrossProtocols(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := "whole"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			checkLeaks(t)
			a := startFaults(t, faults.Script{Kind: faults.Status, Status: 503})
			claudeURL, calls := anthropicUpstream(t)
			claude := openaiProvider("claude", claudeURL, "claude-m")
			claude.Type = config.TypeClaude
			cfg := baseConfig(faultProvider("a", a.URL(), 1), claude)
			cfg.Fallbacks = map[string][]string{faultModel: {"claude/claude-m"}}
			cfg.Retry = config.Retry{MaxAttempts: 3, PerTarget: 2, BaseBackoff: time.Millisecond}
			srv, base := startFaultProxy(t, cfg)
			hc := httpClient(t)
			got := chat(t, hc, base, stream, nil)
			if got.status != 200 || got.text != "from claude" || (stream && !got.done) || got.streamErr != "" {
				t.Fatalf("client got %+v", got)
			}
			if a.Requests() != 2 || calls.Load() != 1 {
				t.Fatalf("a saw %d requests, claude %d", a.Requests(), calls.Load())
			}
			waitIdle(t, srv, hc)
		})
	}
}
