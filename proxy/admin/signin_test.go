package admin_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
	"github.com/llmproxy/proxy/providers/kiro/kiromock"
	"github.com/llmproxy/proxy/proxy/admin"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/signin"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// oauthServer is a ChatGPT-like authorization server: /authorize sends the
// browser back to the redirect URI with a code bound to the PKCE
// challenge; /token checks the verifier and the redirect URI, and answers
// tokens with an ID token naming the account.
type oauthServer struct {
	*httptest.Server
	exchanges atomic.Int64
}

const (
	signinAccess  = "at-signin-7e1f0c"
	signinRefresh = "rt-signin-93ab4d"
)

func startOAuth(t *testing.T) *oauthServer {
	o := &oauthServer{}
	var mu sync.Mutex
	grants := map[string][2]string{} // code -> challenge, redirect URI
	n := 0
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/authorize":
			q := r.URL.Query()
			if q.Get("code_challenge_method") != "S256" || q.Get("client_id") == "" || q.Get("response_type") != "code" {
				http.Error(w, "bad authorize request", http.StatusBadRequest)
				return
			}
			mu.Lock()
			n++
			code := fmt.Sprintf("code-%d", n)
			grants[code] = [2]string{q.Get("code_challenge"), q.Get("redirect_uri")}
			mu.Unlock()
			http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		case "/oauth/token":
			_ = r.ParseForm()
			mu.Lock()
			g, ok := grants[r.Form.Get("code")]
			delete(grants, r.Form.Get("code")) // a code works once
			mu.Unlock()
			sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
			w.Header().Set("Content-Type", "application/json")
			if !ok || r.Form.Get("grant_type") != "authorization_code" || base64.RawURLEncoding.EncodeToString(sum[:]) != g[0] || r.Form.Get("redirect_uri") != g[1] {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			o.exchanges.Add(1)
			claims, _ := json.Marshal(map[string]any{"email": "ops@example.com"})
			enc := base64.RawURLEncoding.EncodeToString
			id := enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + ".sig"
			fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"id_token":%q,"expires_in":3600}`, signinAccess, signinRefresh, id)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// signinFixture is the admin API with a sign-in Manager on a clock the
// test moves.
type signinFixture struct {
	url    string
	mu     sync.Mutex
	now    time.Time
	saved  []string
	bodies []string
	logs   *observer.ObservedLogs
}

func (f *signinFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *signinFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func startSignins(t *testing.T, provs []config.Provider, maxPending int) *signinFixture {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	f := &signinFixture{now: time.Now(), logs: logs}
	m := signin.NewManager(signin.Options{Log: zap.New(core),
		Providers:  func() []config.Provider { return provs },
		Saved:      func(p string) error { f.mu.Lock(); f.saved = append(f.saved, p); f.mu.Unlock(); return nil },
		MaxPending: maxPending, Now: f.clock,
	})
	t.Cleanup(m.Close)
	h := admin.New(admin.Options{Key: adminKey, SignIns: m,
		Providers: func() []byte { return []byte(`{}`) }, Config: func() []byte { return []byte(`{}`) }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *signinFixture) call(t *testing.T, method, path, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, out
}

// noSecrets fails when any body the API answered, or any line logged,
// holds one of secrets.
func (f *signinFixture) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	texts := f.bodies
	for _, e := range f.logs.All() {
		texts = append(texts, fmt.Sprint(e.Message, e.ContextMap()))
	}
	if len(f.logs.All()) == 0 {
		t.Error("nothing was logged: the check of the log checks nothing")
	}
	for _, b := range texts {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("a body holds the secret %q: %s", s, b)
			}
		}
	}
}

func codexProvider(o *oauthServer, dir string) config.Provider {
	p := config.Provider{Name: "chatgpt", Type: config.TypeCodex, Credentials: filepath.Join(dir, "codex"), Models: []string{"*"},
		OAuth: config.OAuth{AuthorizeURL: o.URL + "/oauth/authorize", TokenURL: o.URL + "/oauth/token"}}
	p.FillDefaults()
	return p
}

// browserRedirect signs in at the authorize URL as a browser would and
// returns the address the browser ends on (the loopback redirect, which
// nothing answers: the operator pastes it).
func browserRedirect(t *testing.T, authorizeURL string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// TestAdminSignInBrowserPaste: a codex sign-in from the admin API with the
// pasted-redirect callback, end to end against a mock authorization
// server: the authorize URL carries a PKCE challenge; a redirect of
// another sign-in (wrong state) or no URL at all is refused without a call
// upstream and the sign-in stays open; the right one is exchanged once and
// the account lands 0600 in the provider's folder, the provider told; a
// sign-in past its time is refused; the number under way is bounded; no
// token appears in any answer.
func TestAdminSignInBrowserPaste(t *testing.T) {
	o := startOAuth(t)
	dir := t.TempDir()
	mock := config.Provider{Name: "mock", Type: config.TypeMock, Models: []string{"*"}}
	f := startSignins(t, []config.Provider{codexProvider(o, dir), mock}, 2)

	code, body := f.call(t, "GET", "/api/v1/signins", "", nil)
	if code != 200 || fmt.Sprint(body["providers"]) != fmt.Sprintf("[map[credentials:%s methods:[browser device] name:chatgpt type:codex]]", filepath.Join(dir, "codex")) {
		t.Fatalf("providers to sign in: %d %v", code, body)
	}
	for _, c := range []struct{ body, want string }{
		{`{"provider":"nope"}`, "no provider"},
		{`{"provider":"mock"}`, "no accounts"},
		{`{"provider":"chatgpt","method":"carrier-pigeon"}`, "sign in with"},
		{`{"provider":"chatgpt","region":"eu-west-1"}`, "for kiro"},
		{`{"provider":"chatgpt","token":"x"}`, "unknown field"},
	} {
		if code, body := f.call(t, "POST", "/api/v1/signins", c.body, nil); code != 400 || !strings.Contains(fmt.Sprint(body), c.want) {
			t.Errorf("start %s: %d %v, want 400 %q", c.body, code, body, c.want)
		}
	}

	code, v := f.call(t, "POST", "/api/v1/signins", `{"provider":"chatgpt"}`, nil)
	if code != 201 || v["state"] != "pending" || v["method"] != "browser" || v["redirect_prefix"] != "http://localhost:1455/auth/callback" {
		t.Fatalf("start: %d %v", code, v)
	}
	id, authURL := v["id"].(string), v["authorize_url"].(string)
	if u, _ := url.Parse(authURL); u.Query().Get("code_challenge") == "" || u.Query().Get("state") == "" {
		t.Fatalf("authorize URL without PKCE or state: %s", authURL)
	}
	redirect := browserRedirect(t, authURL)

	// Refused, nothing sent upstream, still pending.
	forged := strings.Replace(redirect, "state=", "state=x", 1)
	for _, bad := range []string{forged, "", "http://localhost:1455/auth/callback?state=" + url.QueryEscape(new(url.URL).String())} {
		b, _ := json.Marshal(map[string]string{"redirect_url": bad})
		if code, body := f.call(t, "POST", "/api/v1/signins/"+id, string(b), nil); code != 400 || errCode(body) != "invalid" {
			t.Errorf("paste %q: %d %v, want 400 invalid", bad, code, body)
		}
	}
	if code, v := f.call(t, "GET", "/api/v1/signins/"+id, "", nil); code != 200 || v["state"] != "pending" {
		t.Fatalf("after refused pastes: %d %v", code, v)
	}
	if n := o.exchanges.Load(); n != 0 {
		t.Fatalf("%d code exchanges before the right redirect", n)
	}
	// A cross-site page cannot finish it.
	b, _ := json.Marshal(map[string]string{"redirect_url": redirect})
	if code, body := f.call(t, "POST", "/api/v1/signins/"+id, string(b), map[string]string{"Origin": "http://evil.example"}); code != 403 || errCode(body) != "csrf" {
		t.Fatalf("cross-site completion: %d %v", code, body)
	}

	code, v = f.call(t, "POST", "/api/v1/signins/"+id, string(b), nil)
	if code != 200 || v["state"] != "done" || v["account"] != "ops@example.com" {
		t.Fatalf("complete: %d %v", code, v)
	}
	file := v["file"].(string)
	if filepath.Dir(file) != filepath.Join(dir, "codex") {
		t.Errorf("saved to %s, want the provider's folder", file)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("account file: %v %v", err, st)
	}
	if raw, _ := os.ReadFile(file); !strings.Contains(string(raw), signinAccess) || !strings.Contains(string(raw), signinRefresh) {
		t.Errorf("account file lacks the tokens: %s", raw)
	}
	f.mu.Lock()
	saved := fmt.Sprint(f.saved)
	f.mu.Unlock()
	if saved != "[chatgpt]" {
		t.Errorf("the provider was told %s, want [chatgpt] once", saved)
	}
	if code, body := f.call(t, "POST", "/api/v1/signins/"+id, string(b), nil); code != 400 || !strings.Contains(fmt.Sprint(body), "already done") {
		t.Errorf("a second completion: %d %v", code, body)
	}
	if n := o.exchanges.Load(); n != 1 {
		t.Errorf("%d code exchanges, want 1", n)
	}

	// Expired: ten minutes pass before the paste.
	_, v = f.call(t, "POST", "/api/v1/signins", `{"provider":"chatgpt"}`, nil)
	late := v["id"].(string)
	redirect = browserRedirect(t, v["authorize_url"].(string))
	f.advance(10*time.Minute + time.Second)
	b, _ = json.Marshal(map[string]string{"redirect_url": redirect})
	if code, body := f.call(t, "POST", "/api/v1/signins/"+late, string(b), nil); code != 410 || errCode(body) != "expired" {
		t.Fatalf("an expired sign-in: %d %v, want 410 expired", code, body)
	}
	if code, v := f.call(t, "GET", "/api/v1/signins/"+late, "", nil); code != 200 || v["state"] != "failed" || !strings.Contains(fmt.Sprint(v["error"]), "expired") {
		t.Errorf("status of the expired sign-in: %d %v", code, v)
	}
	if n := o.exchanges.Load(); n != 1 {
		t.Errorf("the expired sign-in's code was exchanged (%d exchanges)", n)
	}

	// Bounded: two under way, the third refused until one ends.
	var open []string
	for range 2 {
		code, v := f.call(t, "POST", "/api/v1/signins", `{"provider":"chatgpt"}`, nil)
		if code != 201 {
			t.Fatalf("start: %d %v", code, v)
		}
		open = append(open, v["id"].(string))
	}
	if code, body := f.call(t, "POST", "/api/v1/signins", `{"provider":"chatgpt"}`, nil); code != 429 || errCode(body) != "too_many" {
		t.Fatalf("a third sign-in under way: %d %v, want 429", code, body)
	}
	if code, _ := f.call(t, "DELETE", "/api/v1/signins/"+open[0], "", nil); code != 204 {
		t.Fatalf("cancel: %d", code)
	}
	if code, v := f.call(t, "POST", "/api/v1/signins", `{"provider":"chatgpt"}`, nil); code != 201 {
		t.Fatalf("start after a cancel: %d %v", code, v)
	}
	if code, body := f.call(t, "GET", "/api/v1/signins/0123", "", nil); code != 404 || errCode(body) != "not_found" {
		t.Errorf("an unknown sign-in: %d %v", code, body)
	}
	f.noSecrets(t, signinAccess, signinRefresh)
}

// TestAdminSignInDeviceFlow: a Copilot sign-in (GitHub's device flow)
// from the admin API against the mock GitHub: the code and page are
// answered at once, the poll runs in the background, the status turns done
// with the account and the file is saved 0600; a sign-in refused at the
// verification page ends failed with the reason. No token in any answer.
func TestAdminSignInDeviceFlow(t *testing.T) {
	const ghToken = "gho_signin_device_5c2e"
	for _, c := range []struct {
		name, deviceError, state, want string
	}{
		{"approved", "", "done", ""},
		{"denied", "access_denied", "failed", "cancelled at the verification page"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := copilotmock.Start(t, copilotmock.Options{Pending: 1, DeviceToken: ghToken, DeviceError: c.deviceError})
			dir := t.TempDir()
			p := config.Provider{Name: "gh", Type: config.TypeCopilot, Credentials: filepath.Join(dir, "copilot"), Models: []string{"*"},
				OAuth: config.OAuth{DeviceURL: m.URL + "/login/device/code", TokenURL: m.URL + "/login/oauth/access_token"}}
			p.FillDefaults()
			f := startSignins(t, []config.Provider{p}, 0)
			code, v := f.call(t, "POST", "/api/v1/signins", `{"provider":"gh"}`, nil)
			if code != 201 || v["method"] != "device" || v["user_code"] != "WDJB-MJHT" || v["verification_url"] != m.URL+"/login/device" || v["state"] != "pending" {
				t.Fatalf("start: %d %v", code, v)
			}
			if code, body := f.call(t, "POST", "/api/v1/signins/"+v["id"].(string), `{"redirect_url":"http://localhost/?code=x"}`, nil); code != 400 {
				t.Errorf("pasting a redirect into a device sign-in: %d %v", code, body)
			}
			id := v["id"].(string)
			deadline := time.Now().Add(15 * time.Second)
			for v["state"] == "pending" && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				_, v = f.call(t, "GET", "/api/v1/signins/"+id, "", nil)
			}
			if v["state"] != c.state || !strings.Contains(fmt.Sprint(v["error"]), c.want) {
				t.Fatalf("status: %v, want %s %q", v, c.state, c.want)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "copilot", "*.json"))
			if c.state == "failed" {
				if len(files) != 0 {
					t.Errorf("a refused sign-in saved %v", files)
				}
				return
			}
			if len(files) != 1 || v["file"] != files[0] || v["account"] != files[0] {
				t.Fatalf("saved %v, status %v", files, v)
			}
			if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("account file: %v %v", err, st)
			}
			if raw, _ := os.ReadFile(files[0]); !strings.Contains(string(raw), ghToken) {
				t.Errorf("account file lacks the token: %s", raw)
			}
			f.noSecrets(t, ghToken)
		})
	}
}

// waitSignin polls a sign-in's status until it is no longer pending.
func (f *signinFixture) waitSignin(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, v := f.call(t, "GET", "/api/v1/signins/"+id, "", nil)
		if v["state"] != "pending" || time.Now().After(deadline) {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAdminSignInOtherDeviceFlows: the Kiro (AWS SSO OIDC, Builder ID)
// and ChatGPT device-code sign-ins from the admin API against their mock
// services: the code is answered, the account saved 0600, no token
// answered; a Kiro region is refused for another type.
func TestAdminSignInOtherDeviceFlows(t *testing.T) {
	km := kiromock.New()
	defer km.Close()
	km.Pending, km.DeviceAccess = 1, "at-kiro-device-61d0"
	var iss *httptest.Server
	iss = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/accounts/deviceauth/usercode":
			fmt.Fprint(w, `{"device_auth_id":"dev-1","user_code":"QRST-1234","interval":"0"}`)
		case "/api/accounts/deviceauth/token":
			fmt.Fprint(w, `{"authorization_code":"c","code_verifier":"v"}`)
		case "/oauth/token":
			_ = r.ParseForm()
			if r.Form.Get("redirect_uri") != iss.URL+"/deviceauth/callback" || r.Form.Get("code_verifier") != "v" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"expires_in":3600}`, signinAccess, signinRefresh)
		default:
			http.NotFound(w, r)
		}
	}))
	defer iss.Close()
	dir := t.TempDir()
	kp := config.Provider{Name: "kiro", Type: config.TypeKiro, Credentials: filepath.Join(dir, "kiro"), Models: []string{"*"},
		OAuth: config.OAuth{TokenURL: km.URL() + "/refreshToken", OIDCTokenURL: km.URL() + "/token"}}
	cp := config.Provider{Name: "chatgpt", Type: config.TypeCodex, Credentials: filepath.Join(dir, "codex"), Models: []string{"*"},
		OAuth: config.OAuth{AuthorizeURL: iss.URL + "/oauth/authorize", TokenURL: iss.URL + "/oauth/token"}}
	kp.FillDefaults()
	cp.FillDefaults()
	f := startSignins(t, []config.Provider{kp, cp}, 0)

	for _, c := range []struct{ provider, body, code, folder string }{
		{"kiro", `{"provider":"kiro"}`, "ABCD-EFGH", "kiro"},
		{"chatgpt", `{"provider":"chatgpt","method":"device"}`, "QRST-1234", "codex"},
	} {
		code, v := f.call(t, "POST", "/api/v1/signins", c.body, nil)
		if code != 201 || v["user_code"] != c.code || v["verification_url"] == nil {
			t.Fatalf("%s: start: %d %v", c.provider, code, v)
		}
		v = f.waitSignin(t, v["id"].(string))
		files, _ := filepath.Glob(filepath.Join(dir, c.folder, "*.json"))
		if v["state"] != "done" || len(files) != 1 || v["file"] != files[0] {
			t.Fatalf("%s: %v, files %v", c.provider, v, files)
		}
		if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: account file: %v %v", c.provider, err, st)
		}
	}
	f.noSecrets(t, "at-kiro-device-61d0", "rt-device", signinAccess, signinRefresh)
}

// TestAdminSignInPastedTwiceAtOnce: the same redirect pasted twice at
// once (two tabs) is exchanged once; the other paste is refused.
func TestAdminSignInPastedTwiceAtOnce(t *testing.T) {
	o := startOAuth(t)
	f := startSignins(t, []config.Provider{codexProvider(o, t.TempDir())}, 0)
	_, v := f.call(t, "POST", "/api/v1/signins", `{"provider":"chatgpt"}`, nil)
	id := v["id"].(string)
	b, _ := json.Marshal(map[string]string{"redirect_url": browserRedirect(t, v["authorize_url"].(string))})
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			code, _ := f.call(t, "POST", "/api/v1/signins/"+id, string(b), nil)
			codes <- code
		}()
	}
	got := []int{<-codes, <-codes}
	if !(got[0] == 200 && got[1] == 400 || got[0] == 400 && got[1] == 200) {
		t.Errorf("two pastes answered %v, want one 200 and one 400", got)
	}
	if n := o.exchanges.Load(); n != 1 {
		t.Errorf("%d code exchanges, want 1", n)
	}
}
