package cors

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serve runs h on a real 127.0.0.1 listener and returns its address.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

func backend(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("X-Request-Id", "rid-1")
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"ok":true}`)
}

type resp struct {
	status int
	header map[string]string
	body   string
}

func do(t *testing.T, addr, method string, hdr map[string]string) resp {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	r := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(r)
	req.SetRequestURI("http://" + addr + "/v1/chat/completions")
	req.Header.SetMethod(method)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := fasthttp.DoTimeout(req, r, 5*time.Second); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	out := resp{status: r.StatusCode(), header: map[string]string{}, body: string(r.Body())}
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
		"Access-Control-Max-Age", "Access-Control-Expose-Headers", "X-Request-Id"} {
		if v := r.Header.Peek(k); v != nil {
			out.header[k] = string(v)
		}
	}
	var vary []string
	for _, v := range r.Header.PeekAll("Vary") {
		vary = append(vary, string(v))
	}
	if len(vary) > 0 {
		out.header["Vary"] = strings.Join(vary, ",")
	}
	return out
}

func TestMiddleware(t *testing.T) {
	listed, err := New(Config{Origins: []string{"https://App.example.com", "https://*.corp.test"}, Headers: []string{"X-Custom"}, MaxAge: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	anyOrigin, err := New(Config{Origins: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	reflect, err := New(Config{Origins: []string{"*"}, Headers: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	listedAddr := serve(t, listed.Wrap(backend))
	anyAddr := serve(t, anyOrigin.Wrap(backend))
	reflectAddr := serve(t, reflect.Wrap(backend))

	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os"}
	}
	tests := []struct {
		name      string
		addr      string
		method    string
		hdr       map[string]string
		status    int
		want      map[string]string // "" means the header must be absent
		wantBody  string
		wantInAll []string // substrings of Allow-Headers
	}{
		{
			name: "no origin passes through untouched", addr: listedAddr, method: "POST", status: 200, wantBody: `{"ok":true}`,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "", "X-Request-Id": "rid-1"},
		},
		{
			name: "allowed origin on actual request", addr: listedAddr, method: "POST", hdr: map[string]string{"Origin": "https://app.example.com"},
			status: 200, wantBody: `{"ok":true}`,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Vary": "Origin", "Access-Control-Expose-Headers": exposed},
		},
		{
			name: "disallowed origin gets no grant but still Vary", addr: listedAddr, method: "POST", hdr: map[string]string{"Origin": "https://evil.test"},
			status: 200, wantBody: `{"ok":true}`,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"},
		},
		{
			name: "preflight allowed", addr: listedAddr, method: "OPTIONS", hdr: preflight("https://app.example.com"), status: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": allowMethods,
				"Access-Control-Max-Age": "600", "Vary": "Origin"},
			wantInAll: []string{"authorization", "x-api-key", "x-goog-api-key", "anthropic-version", "content-type", "x-stainless-os", "x-custom"},
		},
		{
			name: "preflight subdomain wildcard", addr: listedAddr, method: "OPTIONS", hdr: preflight("https://team.corp.test"), status: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "https://team.corp.test"},
		},
		{
			name: "preflight wildcard does not match other scheme", addr: listedAddr, method: "OPTIONS", hdr: preflight("http://team.corp.test"), status: 403,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""},
		},
		{
			name: "preflight wildcard does not match bare domain", addr: listedAddr, method: "OPTIONS", hdr: preflight("https://corp.test"), status: 403,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "preflight disallowed", addr: listedAddr, method: "OPTIONS", hdr: preflight("https://evil.test"), status: 403,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"},
		},
		{
			name: "options without request method is not a preflight", addr: listedAddr, method: "OPTIONS", hdr: map[string]string{"Origin": "https://app.example.com"},
			status: 200, wantBody: `{"ok":true}`,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"},
		},
		{
			name: "any origin answers star without Vary", addr: anyAddr, method: "POST", hdr: map[string]string{"Origin": "http://localhost:5173"},
			status: 200, want: map[string]string{"Access-Control-Allow-Origin": "*", "Vary": ""},
		},
		{
			name: "any origin preflight without max age", addr: anyAddr, method: "OPTIONS", hdr: preflight("http://localhost:5173"), status: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": ""},
		},
		{
			name: "reflect requested headers", addr: reflectAddr, method: "OPTIONS",
			hdr:    map[string]string{"Origin": "http://x.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-new-sdk-header, authorization"},
			status: 204, want: map[string]string{"Access-Control-Allow-Headers": "x-new-sdk-header, authorization", "Vary": "Access-Control-Request-Headers"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.addr, tc.method, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if tc.wantBody != "" && r.body != tc.wantBody {
				t.Fatalf("body %q: next handler not called", r.body)
			}
			if tc.status == 204 && r.body != "" {
				t.Fatalf("preflight reached the handler: body %q", r.body)
			}
			for k, v := range tc.want {
				if got := r.header[k]; got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, h := range tc.wantInAll {
				if !strings.Contains(r.header["Access-Control-Allow-Headers"], h) {
					t.Errorf("Allow-Headers %q lacks %q", r.header["Access-Control-Allow-Headers"], h)
				}
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
		enabled bool
	}{
		{Config{}, "", false},
		{Config{Origins: []string{"*"}}, "", true},
		{Config{Origins: []string{"https://a.test", "http://localhost:3000"}}, "", true},
		{Config{Origins: []string{"a.test"}}, "needs a scheme", false},
		{Config{Origins: []string{"https://a.test/"}}, "must not end", false},
		{Config{Origins: []string{"https://a*.test"}}, "leading subdomain", false},
		{Config{Origins: []string{" "}}, "empty origin", false},
		{Config{Origins: []string{"*"}, Headers: []string{"bad header"}}, "bad header", false},
		{Config{Origins: []string{"*"}, MaxAge: -time.Second}, "negative", false},
	}
	for _, tc := range tests {
		p, err := New(tc.cfg)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%+v) err %v, want %q", tc.cfg, err, tc.wantErr)
			}
			continue
		}
		if err != nil || p.Enabled() != tc.enabled {
			t.Errorf("New(%+v) = enabled %v, err %v", tc.cfg, p.Enabled(), err)
		}
	}
}

func TestReflectRejectsInjection(t *testing.T) {
	p, err := New(Config{Origins: []string{"*"}, Headers: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("OPTIONS")
	ctx.Request.Header.Set("Origin", "http://x.test")
	ctx.Request.Header.Set("Access-Control-Request-Method", "POST")
	ctx.Request.Header.Set("Access-Control-Request-Headers", "x-a;evil=1")
	p.Wrap(backend)(&ctx)
	if got := string(ctx.Response.Header.Peek("Access-Control-Allow-Headers")); strings.Contains(got, "evil") {
		t.Fatalf("reflected unsafe header list: %q", got)
	}
}

func TestDisabledReturnsNext(t *testing.T) {
	p, _ := New(Config{})
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.Set("Origin", "https://a.test")
	p.Wrap(backend)(&ctx)
	if ctx.Response.Header.Peek("Access-Control-Allow-Origin") != nil {
		t.Fatal("disabled policy added CORS headers")
	}
}
