//go:build agents

package agents

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmproxy/proxy/providers/mock"
)

// TestAgents drives each CLI through the proxy to each upstream type: one
// plain turn, and one tool loop in which the mock asks for the CLI's own
// file-reading tool, the CLI runs it, and the mock quotes the result back.
func TestAgents(t *testing.T) {
	rec := &recorder{}
	mockURL := startMock(t, rec)
	for _, up := range upstreamTypes {
		base := startProxy(t, up.typ, mockURL+up.path)
		for _, c := range clients {
			t.Run(c.name+"/"+up.typ+"/plain", func(t *testing.T) {
				r := run(t, c, base, t.TempDir(), "Say hello.")
				if r.err != nil || !strings.Contains(r.stdout, mock.Text(5)) {
					t.Fatalf("%s via %s: %v\nstdout: %s\nstderr: %s", c.name, up.typ, r.err, tail(r.stdout, 2000), tail(r.stderr, 3000))
				}
			})
			t.Run(c.name+"/"+up.typ+"/tool", func(t *testing.T) {
				work := t.TempDir()
				nonce := newNonce(t)
				const rel = "note.txt"
				path := filepath.Join(work, rel)
				writeFile(t, path, nonce+"\n")
				r := run(t, c, base, work, "Read the note. "+c.toolMarker(path, rel))
				if r.err != nil || !strings.Contains(r.stdout, mock.ResultPrefix) || !strings.Contains(r.stdout, nonce) {
					t.Fatalf("%s via %s: %v\nstdout: %s\nstderr: %s", c.name, up.typ, r.err, tail(r.stdout, 2000), tail(r.stderr, 3000))
				}
				// The mock provider answers in-process; the standalone one
				// must have been sent the tool's result.
				if up.path != "" && !rec.saw(nonce) {
					t.Fatalf("%s via %s: the tool result never reached the upstream", c.name, up.typ)
				}
			})
		}
	}
}

func newNonce(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "nonce-" + hex.EncodeToString(b)
}
