package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Login is an OAuth 2.0 authorization-code sign-in with PKCE (RFC 7636)
// and a loopback redirect (RFC 8252), as the official CLIs do it.
type Login struct {
	AuthorizeURL, TokenURL string
	ClientID, ClientSecret string
	Scope                  string
	// Extra are additional authorize parameters the provider wants.
	Extra url.Values
	// Port is the loopback redirect's port; Path its path.
	Port int
	Path string
	// Client is the HTTP client for the token exchange.
	Client *http.Client
}

// Flow is one sign-in in progress.
type Flow struct {
	l                      *Login
	verifier, state, redir string
}

// Start makes the sign-in's secrets and its authorization URL.
func (l *Login) Start() (*Flow, string, error) {
	v, err := randomString(48)
	if err != nil {
		return nil, "", err
	}
	st, err := randomString(24)
	if err != nil {
		return nil, "", err
	}
	f := &Flow{l: l, verifier: v, state: st,
		redir: "http://localhost:" + strconv.Itoa(l.Port) + l.Path}
	sum := sha256.Sum256([]byte(v))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {l.ClientID},
		"redirect_uri":          {f.redir},
		"scope":                 {l.Scope},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {st},
	}
	for k, vs := range l.Extra {
		q[k] = vs
	}
	return f, l.AuthorizeURL + "?" + q.Encode(), nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Listen waits on the loopback redirect for the browser to come back,
// then exchanges the code. ready is called once the port is open.
func (f *Flow) Listen(ctx context.Context, ready func()) (Tokens, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.l.Port)))
	if err != nil {
		return Tokens{}, fmt.Errorf("redirect port %d: %w (another sign-in running? choose oauth.redirect_port)", f.l.Port, err)
	}
	got := make(chan url.Values, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != f.l.Path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Signed in: you can close this tab and return to the terminal.\n")
		select {
		case got <- r.URL.Query():
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if ready != nil {
		ready()
	}
	select {
	case q := <-got:
		return f.exchange(q)
	case <-ctx.Done():
		return Tokens{}, fmt.Errorf("sign-in: %w", ctx.Err())
	}
}

// ErrRedirect marks a pasted redirect that cannot finish this sign-in (not
// a URL, no code, another sign-in's state): nothing was sent upstream, and
// the sign-in can still be finished with the right one.
var ErrRedirect = errors.New("not this sign-in's redirect")

// ErrState is a redirect whose state is not this sign-in's.
var ErrState = fmt.Errorf("sign-in: the redirect's state does not match this sign-in (an old tab, or a forged redirect): %w", ErrRedirect)

// Pasted finishes a sign-in from the redirect URL the user copied from the
// browser's address bar (a machine without a browser: the redirect fails
// to load, but its URL carries the code).
func (f *Flow) Pasted(redirect string) (Tokens, error) {
	u, err := url.Parse(strings.TrimSpace(redirect))
	if err != nil {
		return Tokens{}, fmt.Errorf("pasted URL: %w (%w)", err, ErrRedirect)
	}
	return f.exchange(u.Query())
}

func (f *Flow) exchange(q url.Values) (Tokens, error) {
	if e := q.Get("error"); e != "" {
		return Tokens{}, fmt.Errorf("sign-in refused: %s %s", e, q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		return Tokens{}, ErrState
	}
	code := q.Get("code")
	if code == "" {
		return Tokens{}, fmt.Errorf("sign-in: the redirect carries no code: %w", ErrRedirect)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.redir},
		"client_id": {f.l.ClientID}, "code_verifier": {f.verifier}}
	if f.l.ClientSecret != "" {
		form.Set("client_secret", f.l.ClientSecret)
	}
	t, err := postToken(f.l.Client, f.l.TokenURL, form)
	if err != nil {
		return Tokens{}, fmt.Errorf("code exchange: %w", err)
	}
	return t, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9@._-]+`)

// Save writes a signed-in account into dir (created 0700) as
// <prefix>-<email or account>.json, 0600, and returns the file's path.
func Save(dir, prefix string, t Tokens, now time.Time) (string, error) {
	c := Credential{Format: FormatProxy, AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken,
		raw: map[string]any{"type": prefix}}
	if t.ExpiresIn > 0 {
		c.Expiry = now.Add(t.ExpiresIn)
	}
	c.fillFromJWTs()
	who := c.Email
	if who == "" {
		who = c.AccountID
	}
	if who == "" {
		who = strconv.FormatInt(now.Unix(), 10)
	}
	dir = ExpandHome(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	b, err := c.Marshal(now)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, prefix+"-"+unsafeName.ReplaceAllString(who, "_")+".json")
	return path, writeAtomic(path, b)
}
