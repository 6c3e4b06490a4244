package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestConsoleAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	etag := ""
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
		contentType        string
		body               string
	}{
		{name: "page", method: "GET", path: "/", status: 200, contentType: "text/html", body: `<script src="/console.js" defer>`},
		{name: "page by name", method: "GET", path: "/index.html", status: 200, contentType: "text/html"},
		{name: "script", method: "GET", path: "/console.js", status: 200, contentType: "javascript", body: "/api/v1/login"},
		{name: "charts", method: "GET", path: "/charts.js", status: 200, contentType: "javascript", body: "createElementNS"},
		{name: "style", method: "GET", path: "/console.css", status: 200, contentType: "text/css"},
		{name: "head", method: "HEAD", path: "/", status: 200, contentType: "text/html"},
		{name: "unknown file", method: "GET", path: "/nope.js", status: 404},
		{name: "api path is not the console's", method: "GET", path: "/api/v1/keys", status: 404},
		{name: "no directory listing", method: "GET", path: "/assets/", status: 404},
		{name: "no traversal", method: "GET", path: "/../console.go", status: 404},
		{name: "post", method: "POST", path: "/", status: 405},
		{name: "revalidated", method: "GET", path: "/console.css", header: map[string]string{"If-None-Match": "etag"}, status: 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			for k, v := range tt.header {
				if v == "etag" {
					v = etag
				}
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if tt.contentType != "" && !strings.Contains(res.Header.Get("Content-Type"), tt.contentType) {
				t.Errorf("Content-Type %q, want %s", res.Header.Get("Content-Type"), tt.contentType)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
			if tt.path == "/console.css" && tt.status == 200 {
				etag = res.Header.Get("ETag")
			}
		})
	}
}

// TestConsoleNeedsNothingFromElsewhere keeps the page offline: every file
// it names is the console's own.
func TestConsoleNeedsNothingFromElsewhere(t *testing.T) {
	h := Handler().(handler)
	for name, f := range h.files {
		s := string(f.body)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if i := strings.Index(s, bad); i >= 0 && !strings.HasPrefix(s[i:], "http://www.w3.org/2000/svg") {
				t.Errorf("%s names %q: %.60s", name, bad, s[i:])
			}
		}
	}
}
