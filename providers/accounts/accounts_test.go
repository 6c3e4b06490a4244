package accounts

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwt makes an unsigned token with claims (the proxy never verifies them).
func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(b) + ".sig"
}

// tokenServer is an OAuth token endpoint with refresh-token rotation and
// reuse detection: a refresh token works once, a reused one is refused
// with invalid_grant (and, like OpenAI's, revokes nothing else here).
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	valid   map[string]bool
	calls   atomic.Int32
	delay   time.Duration
	next    int
	expires int
}

func newTokenServer(t *testing.T, first string) *tokenServer {
	ts := &tokenServer{valid: map[string]bool{first: true}, expires: 3600}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.calls.Add(1)
		time.Sleep(ts.delay)
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("client_id") != "cli" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_request"}`)
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		rt := r.Form.Get("refresh_token")
		if !ts.valid[rt] {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"refresh_token_reused"}`)
			return
		}
		delete(ts.valid, rt)
		ts.next++
		nrt := fmt.Sprintf("rt-%d", ts.next)
		ts.valid[nrt] = true
		fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":%q,"expires_in":%d}`, ts.next, nrt, ts.expires)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) oauth() *OAuth { return &OAuth{TokenURL: ts.URL, ClientID: "cli"} }

func writeCred(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFormatsRoundTrip(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	id := jwt(map[string]any{"email": "a@example.com", "https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-1"}})
	for _, tc := range []struct {
		name, body string
		format     Format
	}{
		{"codex cli", `{"OPENAI_API_KEY":null,"tokens":{"id_token":"` + id + `","access_token":"` + jwt(map[string]any{"exp": exp.Unix()}) + `","refresh_token":"rt"},"last_refresh":"2026-01-01T00:00:00Z"}`, FormatCodexCLI},
		{"gemini cli", `{"access_token":"at","refresh_token":"rt","scope":"s","token_type":"Bearer","id_token":"` + id + `","expiry_date":` + fmt.Sprint(exp.UnixMilli()) + `}`, FormatGoogle},
		{"proxy", `{"type":"codex","access_token":"at","refresh_token":"rt","id_token":"` + id + `","expires_at":"` + exp.UTC().Format(time.RFC3339) + `"}`, FormatProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCredential([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.Format != tc.format || !c.Expiry.Equal(exp) || c.Email != "a@example.com" || c.RefreshToken != "rt" {
				t.Fatalf("parsed %+v", c)
			}
			if tc.format != FormatGoogle && c.AccountID != "acct-1" {
				t.Errorf("account id %q from the id token", c.AccountID)
			}
			b, err := c.Marshal(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseCredential(b)
			if err != nil || again.Format != tc.format || again.RefreshToken != "rt" || !again.Expiry.Equal(exp) {
				t.Fatalf("round trip: %v %+v\n%s", err, again, b)
			}
			for _, keep := range []string{"OPENAI_API_KEY", "scope", "type"} {
				if strings.Contains(tc.body, `"`+keep+`"`) && !strings.Contains(string(b), `"`+keep+`"`) {
					t.Errorf("rewrite lost %s: %s", keep, b)
				}
			}
		})
	}
}

func TestBadFilesNameThemselves(t *testing.T) {
	dir := t.TempDir()
	writeCred(t, dir, "good.json", `{"access_token":"at","refresh_token":"rt","expires_at":"2099-01-01T00:00:00Z"}`)
	writeCred(t, dir, "corrupt.json", `{"access_token":`)
	writeCred(t, dir, "empty.json", `{}`)
	accts, errs := Load(dir, nil, Options{})
	if len(accts) != 1 || len(errs) != 2 {
		t.Fatalf("accounts %d errors %v", len(accts), errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("error does not name the file: %v", err)
		}
	}
	if _, errs := Load(filepath.Join(dir, "missing"), nil, Options{}); len(errs) != 1 {
		t.Errorf("missing path: %v", errs)
	}
}

func TestRefreshRotatesAndSaves(t *testing.T) {
	ts := newTokenServer(t, "rt-0")
	dir := t.TempDir()
	p := writeCred(t, dir, "a.json", `{"type":"codex","access_token":"old","refresh_token":"rt-0","expires_at":"2000-01-01T00:00:00Z","extra":"kept"}`)
	a, err := Open(p, ts.oauth(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Credential()
	if err != nil || c.AccessToken != "at-1" || c.RefreshToken != "rt-1" {
		t.Fatalf("refresh: %v %+v", err, c)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `"rt-1"`) || !strings.Contains(string(b), `"kept"`) {
		t.Fatalf("saved file: %s", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	// Fresh now: no second call.
	if _, err := a.Credential(); err != nil || ts.calls.Load() != 1 {
		t.Fatalf("calls %d, %v", ts.calls.Load(), err)
	}
	// A 401 with the current token forces one refresh; with an older one none.
	if c, _ := a.Refreshed("at-1"); c.AccessToken != "at-2" {
		t.Fatalf("forced refresh: %+v", c)
	}
	if c, _ := a.Refreshed("at-1"); c.AccessToken != "at-2" || ts.calls.Load() != 2 {
		t.Fatalf("stale 401 refreshed again: %+v, calls %d", c, ts.calls.Load())
	}
}

// TestOneRefreshForManyRequests: 100 requests on an expired token make one
// refresh call.
func TestOneRefreshForManyRequests(t *testing.T) {
	ts := newTokenServer(t, "rt-0")
	ts.delay = 50 * time.Millisecond
	p := writeCred(t, t.TempDir(), "a.json", `{"access_token":"old","refresh_token":"rt-0","expires_at":"2000-01-01T00:00:00Z"}`)
	a, err := Open(p, ts.oauth(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := a.Credential(); err != nil || c.AccessToken != "at-1" {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := ts.calls.Load(); n != 1 || bad.Load() != 0 {
		t.Fatalf("%d refresh calls, %d failed requests", n, bad.Load())
	}
}

// TestTwoProcessesShareAFolder: two proxies (two Account values on one
// file, as two processes have) refresh an expired account at once: one
// token-endpoint call, and both end with the rotated token, instead of the
// second spending the revoked refresh token.
func TestTwoProcessesShareAFolder(t *testing.T) {
	ts := newTokenServer(t, "rt-0")
	ts.delay = 100 * time.Millisecond
	p := writeCred(t, t.TempDir(), "a.json", `{"access_token":"old","refresh_token":"rt-0","expires_at":"2000-01-01T00:00:00Z"}`)
	a1, err1 := Open(p, ts.oauth(), Options{})
	a2, err2 := Open(p, ts.oauth(), Options{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var wg sync.WaitGroup
	got := make([]Credential, 2)
	errs := make([]error, 2)
	for i, a := range []*Account{a1, a2} {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = a.Credential() }()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || got[0].AccessToken != "at-1" || got[1].AccessToken != "at-1" {
		t.Fatalf("results %+v %v", got, errs)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("%d token-endpoint calls, want 1", n)
	}
}

func TestFailedRefreshIsReported(t *testing.T) {
	ts := newTokenServer(t, "other")
	p := writeCred(t, t.TempDir(), "a.json", `{"email":"x@example.com","access_token":"old","refresh_token":"rt-0","expires_at":"2000-01-01T00:00:00Z"}`)
	a, err := Open(p, ts.oauth(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Credential(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("err = %v", err)
	}
	st := a.Status()
	if !strings.Contains(st.LastError, "refresh_token_reused") || strings.Contains(st.LastError, "rt-0") {
		t.Errorf("status %+v: want the reason, never the token", st)
	}
	// An unreachable endpoint fails with a reason too.
	ts.Close()
	if _, err := a.Credential(); err == nil {
		t.Fatal("refresh against a closed endpoint succeeded")
	}
}

func TestPermissionWarning(t *testing.T) {
	p := writeCred(t, t.TempDir(), "a.json", `{}`)
	if w := PermissionWarning(p); w != "" {
		t.Errorf("0600 file: %q", w)
	}
	_ = os.Chmod(p, 0o644)
	if w := PermissionWarning(p); !strings.Contains(w, "readable by other users") {
		t.Errorf("0644 file: %q", w)
	}
}

// TestKeepFreshRefreshesAhead: an account whose token expires within the
// lead is refreshed in the background, before any request needs it.
func TestKeepFreshRefreshesAhead(t *testing.T) {
	ts := newTokenServer(t, "rt-0")
	exp := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	p := writeCred(t, t.TempDir(), "a.json", `{"access_token":"old","refresh_token":"rt-0","expires_at":"`+exp+`"}`)
	a, err := Open(p, ts.oauth(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := KeepFresh([]*Account{a}, 5*time.Millisecond, 15*time.Minute)
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	for ts.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if ts.calls.Load() != 1 {
		t.Fatalf("%d background refreshes, want 1", ts.calls.Load())
	}
	if c, _ := a.Credential(); c.AccessToken != "at-1" {
		t.Errorf("token %s", c.AccessToken)
	}
}

// TestRefreshTimesOut: a token endpoint that does not answer fails the
// refresh after the client's timeout with a readable reason, leaves the
// file as it was, and does not hold the account: once the endpoint answers
// again, the next request refreshes.
func TestRefreshTimesOut(t *testing.T) {
	ts := newTokenServer(t, "rt-0")
	ts.delay = 500 * time.Millisecond
	const old = `{"access_token":"old","refresh_token":"rt-0","expires_at":"2000-01-01T00:00:00Z"}`
	p := writeCred(t, t.TempDir(), "a.json", old)
	o := ts.oauth()
	o.Client = &http.Client{Timeout: 50 * time.Millisecond}
	a, err := Open(p, o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := a.Credential(); err == nil {
		t.Fatal("a refresh against a hung endpoint succeeded")
	}
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Fatalf("the refresh waited %v, past the client's 50ms timeout", took)
	}
	if st := a.Status(); !strings.Contains(st.LastError, "Timeout") && !strings.Contains(st.LastError, "deadline") {
		t.Errorf("status %+v: want the timeout as the reason", st)
	}
	if b, _ := os.ReadFile(p); string(b) != old {
		t.Errorf("the file changed after a failed refresh: %s", b)
	}
	// The slow answer above may still have rotated rt-0 at the endpoint;
	// give it a fresh one and let it answer in time.
	time.Sleep(ts.delay)
	ts.mu.Lock()
	ts.valid["rt-0"], ts.delay = true, 0
	ts.mu.Unlock()
	if _, err := a.Credential(); err != nil {
		t.Fatalf("the refresh after the endpoint recovered: %v", err)
	}
}
