package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
	"go.uber.org/zap"
)

// Options are what the API serves.
type Options struct {
	// Key and PasswordHash (bcrypt) authenticate callers; with neither,
	// every call is refused.
	Key, PasswordHash string
	SessionTTL        time.Duration
	// Tenants is the virtual key service; nil when store.enabled is off.
	Tenants *tenants.Service
	// Providers renders the providers' state as JSON (what /health says).
	Providers func() []byte
	// Config renders the running configuration as JSON, secrets masked.
	Config func() []byte
	// Reload loads the configuration again.
	Reload func() error
	// SignIns runs the subscription providers' sign-ins; nil: none.
	SignIns SignIns
	Log     *zap.Logger
	// Heartbeat is the pause between keep-alive comments of the live log.
	Heartbeat time.Duration
}

// maxBody bounds a request body: key descriptions are small.
const maxBody = 64 << 10

type api struct {
	o Options
	g *guard
}

// New returns the admin API's handler (mount it at /api/).
func New(o Options) http.Handler {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	a := &api{o: o, g: newGuard(o.Key, o.PasswordHash, o.SessionTTL)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", a.login)
	for pattern, h := range map[string]http.HandlerFunc{
		"POST /api/v1/logout":           a.logout,
		"GET /api/v1/session":           a.session,
		"GET /api/v1/keys":              a.tenant(a.listKeys),
		"POST /api/v1/keys":             a.tenant(a.createKey),
		"GET /api/v1/keys/{id}":         a.tenant(a.getKey),
		"PATCH /api/v1/keys/{id}":       a.tenant(a.patchKey),
		"DELETE /api/v1/keys/{id}":      a.tenant(a.revokeKey),
		"POST /api/v1/keys/{id}/rotate": a.tenant(a.rotateKey),
		"POST /api/v1/keys/{id}/reset":  a.tenant(a.resetKey),
		"GET /api/v1/usage":             a.tenant(a.usage),
		"GET /api/v1/usage/records":     a.tenant(a.records),
		"GET /api/v1/events":            a.tenant(a.events),
		"GET /api/v1/providers":         a.providers,
		"GET /api/v1/config":            a.config,
		"POST /api/v1/config/reload":    a.reload,
		"GET /api/v1/signins":           a.signins(a.signinProviders),
		"POST /api/v1/signins":          a.signins(a.startSignin),
		"GET /api/v1/signins/{id}":      a.signins(a.signinStatus),
		"POST /api/v1/signins/{id}":     a.signins(a.completeSignin),
		"DELETE /api/v1/signins/{id}":   a.signins(a.cancelSignin),
	} {
		mux.Handle(pattern, a.authed(h))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no admin API call "+r.Method+" "+r.URL.Path)
	})
	return mux
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func stateChanging(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authed checks the credential, the failure rate limit and CSRF.
func (a *api) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := remoteAddr(r)
		if blocked, wait := a.g.blocked(addr); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed admin logins from this address; retry later")
			return
		}
		cred := a.g.identify(r)
		if !cred.ok {
			a.g.fail(addr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="proxy admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong admin credentials: send 'Authorization: Bearer <admin.key>' or sign in at POST /api/v1/login")
			return
		}
		if stateChanging(r) {
			if !sameOrigin(r) {
				writeError(w, http.StatusForbidden, "csrf", "cross-origin request refused")
				return
			}
			if cred.session != "" && !tokenEqual(r.Header.Get(HeaderCSRF), cred.csrf) {
				writeError(w, http.StatusForbidden, "csrf", "missing or wrong "+HeaderCSRF+" header (GET /api/v1/session gives it)")
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), credKey{}, cred))
		h(w, r)
	})
}

type credKey struct{}

func tokenEqual(a, b string) bool {
	return len(a) == len(b) && len(a) > 0 && subtleEq(a, b)
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	addr := remoteAddr(r)
	if blocked, wait := a.g.blocked(addr); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed admin logins from this address; retry later")
		return
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "csrf", "cross-origin request refused")
		return
	}
	var body struct {
		Password string `json:"password"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	id, csrf, expires, ok := a.g.login(body.Password)
	if !ok {
		a.g.fail(addr)
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong password (or no admin.password_hash is set)")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Expires: expires})
	writeJSON(w, http.StatusOK, map[string]any{"csrf_token": csrf, "expires_at": expires.UTC()})
}

func (a *api) logout(w http.ResponseWriter, r *http.Request) {
	if cred := r.Context().Value(credKey{}).(credential); cred.session != "" {
		a.g.logout(cred.session)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) session(w http.ResponseWriter, r *http.Request) {
	cred := r.Context().Value(credKey{}).(credential)
	if cred.session == "" {
		writeJSON(w, http.StatusOK, map[string]any{"csrf_token": "", "method": "key"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"csrf_token": cred.csrf, "method": "session", "expires_at": a.g.expiry(cred.session).UTC()})
}

// decode reads a JSON body, bounded, refusing unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func (a *api) tenant(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.o.Tenants == nil {
			writeError(w, http.StatusNotFound, "disabled", "virtual keys and usage are off: set store.enabled: true")
			return
		}
		h(w, r)
	}
}

func (a *api) serviceError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, tenants.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, tenants.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	default:
		a.o.Log.Error("admin API: store", zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "store", "the store failed: "+err.Error())
	}
}

func (a *api) providers(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(a.o.Providers())
}

func (a *api) config(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(a.o.Config())
}

func (a *api) reload(w http.ResponseWriter, _ *http.Request) {
	if a.o.Reload == nil {
		writeError(w, http.StatusNotImplemented, "unsupported", "this process cannot reload its configuration")
		return
	}
	if err := a.o.Reload(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"reloaded": true})
}
