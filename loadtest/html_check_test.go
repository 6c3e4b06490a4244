package loadtest

import (
	"regexp"
	"strings"
	"testing"
)

var externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:|//)|url\(\s*["']?(https?:|//)|@import`)

// checkHTML asserts the page is self-contained and holds the eight charts.
func checkHTML(t *testing.T, page string) {
	t.Helper()
	if m := externalRef.FindString(page); m != "" {
		t.Errorf("HTML references an external resource: %q", m)
	}
	for _, title := range []string{"Latency by percentile", "Throughput and errors over time", "Latency over time",
		"Per-request latency", "RSS of the process under test", "CPU of the process under test", "TTFT distribution",
		"Inter-chunk gap distribution"} {
		if !strings.Contains(page, `aria-label="`+title) {
			t.Errorf("HTML lacks chart %q", title)
		}
	}
	if n := strings.Count(page, "<svg"); n != 8 || strings.Count(page, "</svg>") != 8 {
		t.Errorf("HTML has %d svg elements, want 8", n)
	}
	if !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Error("HTML not closed")
	}
}
