package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// CookieName is the console session cookie.
const CookieName = "proxy_admin"

// HeaderCSRF carries a session's CSRF token on state-changing calls.
const HeaderCSRF = "X-CSRF-Token"

// Failed attempts allowed per address per window before 429.
const (
	maxFailures   = 10
	failureWindow = time.Minute
	maxTracked    = 10000
)

type session struct {
	csrf    string
	expires time.Time
}

// guard authenticates admin calls.
type guard struct {
	key          []byte
	passwordHash []byte
	ttl          time.Duration

	mu       sync.Mutex
	sessions map[string]session
	failures map[string]*failureCount
	now      func() time.Time
}

type failureCount struct {
	n     int
	since time.Time
}

func newGuard(key, passwordHash string, ttl time.Duration) *guard {
	return &guard{key: []byte(key), passwordHash: []byte(passwordHash), ttl: ttl,
		sessions: map[string]session{}, failures: map[string]*failureCount{}, now: time.Now}
}

// credential is who a request is: by key, by session, or nobody.
type credential struct {
	ok      bool
	session string // the session id, for cookie calls
	csrf    string
}

func (g *guard) identify(r *http.Request) credential {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		if len(g.key) > 0 && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), g.key) == 1 {
			return credential{ok: true}
		}
		return credential{}
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return credential{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sessions[c.Value]
	if !ok || !g.now().Before(s.expires) {
		delete(g.sessions, c.Value)
		return credential{}
	}
	return credential{ok: true, session: c.Value, csrf: s.csrf}
}

// blocked reports whether addr failed too often; and how long until not.
func (g *guard) blocked(addr string) (bool, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.failures[addr]
	if f == nil {
		return false, 0
	}
	if g.now().Sub(f.since) >= failureWindow {
		delete(g.failures, addr)
		return false, 0
	}
	return f.n >= maxFailures, failureWindow - g.now().Sub(f.since)
}

func (g *guard) fail(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if len(g.failures) >= maxTracked {
		for a, f := range g.failures {
			if now.Sub(f.since) >= failureWindow {
				delete(g.failures, a)
			}
		}
	}
	f := g.failures[addr]
	if f == nil || now.Sub(f.since) >= failureWindow {
		if len(g.failures) >= maxTracked {
			return // bounded: a flood of addresses costs no memory
		}
		f = &failureCount{since: now}
		g.failures[addr] = f
	}
	f.n++
}

// login checks a password and opens a session.
func (g *guard) login(password string) (id, csrf string, expires time.Time, ok bool) {
	if len(g.passwordHash) == 0 || bcrypt.CompareHashAndPassword(g.passwordHash, []byte(password)) != nil {
		return "", "", time.Time{}, false
	}
	id, csrf = randomToken(), randomToken()
	expires = g.now().Add(g.ttl)
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, s := range g.sessions {
		if !g.now().Before(s.expires) {
			delete(g.sessions, k)
		}
	}
	g.sessions[id] = session{csrf: csrf, expires: expires}
	return id, csrf, expires, true
}

func (g *guard) logout(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sessions, id)
}

func (g *guard) expiry(id string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[id].expires
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // the OS has no randomness: nothing safe to do
	}
	return hex.EncodeToString(b[:])
}

// remoteAddr is the caller's address without the port.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sameOrigin reports whether a state-changing request comes from the
// admin listener's own pages (or from no page at all: curl sends neither
// Origin nor Referer).
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// HashPassword makes the bcrypt hash admin.password_hash holds.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), 12)
	return string(h), err
}
