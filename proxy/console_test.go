package proxy

import (
	"strings"
	"testing"
)

// TestConsoleNotOnClientPort: the console's files are the admin listener's
// alone; the client port answers 404 for each, with or without a client key.
func TestConsoleNotOnClientPort(t *testing.T) {
	_, base := startProxy(t, baseConfig(mockProvider("mock", 5, "gpt-4o-mini")))
	hc := httpClient(t)
	for _, path := range []string{"/", "/index.html", "/console.js", "/charts.js", "/console.css"} {
		for _, hdr := range []map[string]string{nil, bearer(testKey)} {
			resp, body := do(t, hc, "GET", base+path, "", hdr)
			if resp.StatusCode != 404 {
				t.Errorf("GET %s on the client port (key %v): %d, want 404", path, hdr != nil, resp.StatusCode)
			}
			if s := string(body); strings.Contains(s, "proxy console") || strings.Contains(s, "/api/v1/") {
				t.Errorf("GET %s on the client port serves the console: %.80s", path, s)
			}
		}
	}
}
