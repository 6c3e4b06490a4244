package redact

import (
	"strings"
	"testing"
)

const (
	openaiKey = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
	antKey    = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-xyz"
	gKey      = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
)

func TestString(t *testing.T) {
	r := New([]string{"upstream-secret-1", "tiny", "proxy-client-key-XYZ"})
	tests := []struct {
		name, in, want string
	}{
		{"plain text untouched", "model gpt-4o not found", "model gpt-4o not found"},
		{"empty", "", ""},
		{"authorization header line", "Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"},
		{"authorization basic", "authorization: Basic dXNlcjpwYXNz\nnext", "authorization: Basic [REDACTED]\nnext"},
		{"authorization without scheme", "Authorization: rawtoken123", "Authorization: [REDACTED]"},
		{"proxy-authorization", "Proxy-Authorization: Bearer zzz", "Proxy-Authorization: Bearer [REDACTED]"},
		{"authorization in JSON", `{"authorization":"Bearer tok","x":1}`, `{"authorization":"Bearer [REDACTED]","x":1}`},
		{"authorization go %q map", `map[Authorization:[Bearer tok]]`, `map[Authorization:[Bearer [REDACTED]]]`},
		{"authorization JSON array", `{"Authorization":["rawtok"],"X-Api-Key":["k1"]}`, `{"Authorization":["[REDACTED]"],"X-Api-Key":["[REDACTED]"]}`},
		{"authorization word in prose", "missing Authorization header", "missing Authorization header"},
		{"bearer anywhere", "upstream said: bearer eyJhbGciOi.payload.sig rejected", "upstream said: bearer [REDACTED] rejected"},
		{"bearer needs token", "Bearer ", "Bearer "},
		{"x-api-key header", "x-api-key: " + antKey, "x-api-key: [REDACTED]"},
		{"x-api-key JSON spaced", `{"x-api-key" : "abc123"}`, `{"x-api-key" : "[REDACTED]"}`},
		{"x-goog-api-key", "X-Goog-Api-Key: somekey", "X-Goog-Api-Key: [REDACTED]"},
		{"api_key form", "api_key=secretvalue&model=x", "api_key=[REDACTED]&model=x"},
		{"access_token param", "?access_token=abc&b=2", "?access_token=[REDACTED]&b=2"},
		{"gemini key query", "POST /v1beta/models/gemini:generateContent?key=" + gKey + "&alt=sse", "POST /v1beta/models/gemini:generateContent?key=[REDACTED]&alt=sse"},
		{"key query lower bound", "/x?monkey=1&key=v", "/x?monkey=1&key=[REDACTED]"},
		{"empty key param kept", "/x?key=&a=1", "/x?key=&a=1"},
		{"token query", "/x?a=1&token=t0k", "/x?a=1&token=[REDACTED]"},
		{"openai key in error", "Incorrect API key provided: " + openaiKey + ".", "Incorrect API key provided: [REDACTED]."},
		{"anthropic key", "key " + antKey + " invalid", "key [REDACTED] invalid"},
		{"short sk- word kept", "uses sk-learn models", "uses sk-learn models"},
		{"sk inside word kept", "task-abcdefghijklmnopqrstuvwxyz", "task-abcdefghijklmnopqrstuvwxyz"},
		{"google key bare", "key=" + gKey, "key=[REDACTED]"},
		{"google key in prose", "got " + gKey + " bad", "got [REDACTED] bad"},
		{"configured secret", "dial failed with upstream-secret-1 attached", "dial failed with [REDACTED] attached"},
		{"configured secret glued", "xxupstream-secret-1yy", "xx[REDACTED]yy"},
		{"short configured secret ignored", "tiny house", "tiny house"},
		{"two secrets", "a proxy-client-key-XYZ b upstream-secret-1 c", "a [REDACTED] b [REDACTED] c"},
		{"several kinds", "Authorization: Bearer t1\nx-api-key: t2\n" + openaiKey, "Authorization: Bearer [REDACTED]\nx-api-key: [REDACTED]\n[REDACTED]"},
		{"uppercase names", "AUTHORIZATION=BEARER T", "AUTHORIZATION=BEARER [REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.String(tc.in); got != tc.want {
				t.Fatalf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if got := string(r.Bytes([]byte("pre:"), []byte(tc.in))); got != "pre:"+tc.want {
				t.Fatalf("Bytes(%q) = %q", tc.in, got)
			}
			if got := r.Contains([]byte(tc.in)); got != (tc.in != tc.want) {
				t.Fatalf("Contains(%q) = %v", tc.in, got)
			}
		})
	}
}

func TestNilRedactorDetectsShapes(t *testing.T) {
	var r *Redactor
	if got := r.String("Bearer abc"); got != "Bearer [REDACTED]" {
		t.Fatalf("nil redactor: %q", got)
	}
	if got := (&Redactor{}).String("x " + openaiKey); got != "x [REDACTED]" {
		t.Fatalf("zero redactor: %q", got)
	}
}

func TestLongestSecretWins(t *testing.T) {
	r := New([]string{"secret-abc", "secret-abcdef"})
	if got := r.String("v=secret-abcdef!"); got != "v=[REDACTED]!" {
		t.Fatalf("got %q", got)
	}
}

func TestNoLeakFuzzish(t *testing.T) {
	// Every credential shape, embedded at every offset of some noise, must
	// never survive.
	secrets := []string{openaiKey, antKey, gKey, "configured-secret-77"}
	r := New([]string{"configured-secret-77"})
	noise := "ab c\"d:e=f&g?h\n"
	for _, sec := range secrets {
		for i := 0; i <= len(noise); i++ {
			in := noise[:i] + " " + sec + " " + noise[i:]
			if got := r.String(in); strings.Contains(got, sec) {
				t.Fatalf("secret survived in %q -> %q", in, got)
			}
		}
	}
}

func TestStringNoAllocWhenClean(t *testing.T) {
	r := New([]string{"upstream-secret-1"})
	s := "upstream returned 503 service unavailable for model claude-sonnet"
	if n := testing.AllocsPerRun(100, func() { _ = r.String(s) }); n != 0 {
		t.Fatalf("String on clean input allocates %v times", n)
	}
	dst := make([]byte, 0, 256)
	b := []byte("Authorization: Bearer abc")
	if n := testing.AllocsPerRun(100, func() { dst = r.Bytes(dst[:0], b) }); n != 0 {
		t.Fatalf("Bytes into a big enough dst allocates %v times", n)
	}
}
