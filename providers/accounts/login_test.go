package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// authServer is an OAuth authorization server: /authorize redirects the
// "browser" back with a code bound to the PKCE challenge, /token checks
// the verifier against it.
func authServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	challenges := map[string]string{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/authorize":
			q := r.URL.Query()
			if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "cli" || q.Get("id_token_add_organizations") != "true" {
				http.Error(w, "bad authorize request", 400)
				return
			}
			mu.Lock()
			challenges["code-1"] = q.Get("code_challenge")
			mu.Unlock()
			http.Redirect(w, r, q.Get("redirect_uri")+"?code=code-1&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		case "/token":
			_ = r.ParseForm()
			mu.Lock()
			want := challenges[r.Form.Get("code")]
			mu.Unlock()
			sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
			if r.Form.Get("grant_type") != "authorization_code" || want == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != want {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			id := jwt(map[string]any{"email": "me@example.com", "https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-9"}})
			fmt.Fprintf(w, `{"access_token":"at-new","refresh_token":"rt-new","id_token":%q,"expires_in":3600}`, id)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func login(as *httptest.Server, port int) *Login {
	return &Login{AuthorizeURL: as.URL + "/authorize", TokenURL: as.URL + "/token", ClientID: "cli",
		Scope: "openid profile email offline_access", Extra: url.Values{"id_token_add_organizations": {"true"}},
		Port: port, Path: "/auth/callback"}
}

// TestBrowserSignIn: the loopback flow end to end, the test acting as the
// browser, and the account saved where the provider will read it.
func TestBrowserSignIn(t *testing.T) {
	as := authServer(t)
	f, authURL, err := login(as, freePort(t)).Start()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := f.Listen(ctx, func() {
		go func() {
			res, err := http.Get(authURL) // the browser, following the redirect home
			if err == nil {
				res.Body.Close()
			}
		}()
	})
	if err != nil || tok.AccessToken != "at-new" || tok.RefreshToken != "rt-new" {
		t.Fatalf("%v %+v", err, tok)
	}
	dir := t.TempDir() + "/codex"
	path, err := Save(dir, "codex", tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, "codex-me@example.com.json") {
		t.Errorf("saved as %s", path)
	}
	st, _ := os.Stat(path)
	dst, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Errorf("modes %v %v", st.Mode().Perm(), dst.Mode().Perm())
	}
	a, err := Open(path, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.Credential(); err != nil || c.AccountID != "acct-9" || c.Email != "me@example.com" {
		t.Fatalf("saved account: %v %+v", err, c)
	}
}

// TestPastedRedirect: without a browser, the redirect URL the user copies
// finishes the sign-in; a URL from another sign-in is refused.
func TestPastedRedirect(t *testing.T) {
	as := authServer(t)
	l := login(as, freePort(t))
	f, authURL, err := l.Start()
	if err != nil {
		t.Fatal(err)
	}
	// What the user's browser ends on (the redirect itself fails to load).
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	redirect := res.Header.Get("Location")
	other, _, _ := l.Start()
	if _, err := other.Pasted(redirect); err == nil || !strings.Contains(err.Error(), "state") {
		t.Fatalf("another sign-in's redirect: %v", err)
	}
	tok, err := f.Pasted(redirect)
	if err != nil || tok.AccessToken != "at-new" {
		t.Fatalf("%v %+v", err, tok)
	}
}
