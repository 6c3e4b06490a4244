package console_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// fakeAdmin answers the admin API of docs/admin-api.md from memory, as far
// as the console uses it: sessions with a CSRF token, virtual keys, usage
// aggregates, providers, the live log and the configuration. It lets the
// browser tests exercise every page on its own; the end-to-end test in
// package proxy drives the same pages against the real admin API.
type fakeAdmin struct {
	password string

	mu       sync.Mutex
	sessions map[string]string // cookie value -> CSRF token
	keys     []*fakeKey
	records  []fakeRecord
	subs     map[chan []byte]bool
	reloads  int
	refused  []string // state-changing calls refused for CSRF, by path
}

type fakeKey struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Prefix    string            `json:"prefix"`
	Labels    map[string]string `json:"labels"`
	Models    []string          `json:"models"`
	Providers []string          `json:"providers"`
	RPM       int               `json:"rpm"`
	TPM       int               `json:"tpm"`
	Budget    *fakeBudget       `json:"budget"`
	ExpiresAt *time.Time        `json:"expires_at"`
	CreatedAt time.Time         `json:"created_at"`
	RevokedAt *time.Time        `json:"revoked_at"`
	Spent     struct {
		Tokens  int     `json:"tokens"`
		CostUSD float64 `json:"cost_usd"`
	} `json:"spent"`
	secret string
}

type fakeBudget struct {
	Kind   string  `json:"kind"`
	Amount float64 `json:"amount"`
	Period string  `json:"period"`
}

type fakeRecord struct {
	time                 time.Time
	key, model, provider string
	status               int
	in, out              int
	cost                 float64
	latency              float64
}

func newFakeAdmin(password string) *fakeAdmin {
	return &fakeAdmin{password: password, sessions: map[string]string{}, subs: map[chan []byte]bool{}}
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// routes mounts the fake API on mux.
func (f *fakeAdmin) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/login", f.login)
	mux.HandleFunc("GET /api/v1/session", f.authed(f.session))
	mux.HandleFunc("POST /api/v1/logout", f.authed(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie("proxy_admin")
		f.mu.Lock()
		delete(f.sessions, c.Value)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /api/v1/providers", f.authed(f.providers))
	mux.HandleFunc("GET /api/v1/signins", f.authed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"providers": []any{
			map[string]any{"name": "codex", "type": "codex", "methods": []string{"browser", "device"}, "credentials": "/srv/accounts/codex"},
			map[string]any{"name": "gh", "type": "copilot", "methods": []string{"device"}, "problem": "provider gh has no credentials folder to save an account in: set its credentials"}}})
	}))
	mux.HandleFunc("GET /api/v1/keys", f.authed(f.listKeys))
	mux.HandleFunc("POST /api/v1/keys", f.authed(f.createKey))
	mux.HandleFunc("PATCH /api/v1/keys/{id}", f.authed(f.patchKey))
	mux.HandleFunc("DELETE /api/v1/keys/{id}", f.authed(f.revokeKey))
	mux.HandleFunc("POST /api/v1/keys/{id}/rotate", f.authed(f.rotateKey))
	mux.HandleFunc("GET /api/v1/usage", f.authed(f.usage))
	mux.HandleFunc("GET /api/v1/usage/records", f.authed(f.usageRecords))
	mux.HandleFunc("GET /api/v1/events", f.authed(f.events))
	mux.HandleFunc("GET /api/v1/config", f.authed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"server": map[string]any{"addr": "127.0.0.1:8080", "api_keys": []string{"***"}},
			"admin": map[string]any{"password_hash": "***"}, "providers": []any{map[string]any{"name": "mock", "type": "mock"}}})
	}))
	mux.HandleFunc("POST /api/v1/config/reload", f.authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reloads++
		f.mu.Unlock()
		writeJSON(w, 200, map[string]bool{"reloaded": true})
	}))
}

func (f *fakeAdmin) login(w http.ResponseWriter, r *http.Request) {
	var body struct{ Password string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Password != f.password {
		apiError(w, 401, "unauthorized", "wrong password")
		return
	}
	id, csrf := token(16), token(16)
	f.mu.Lock()
	f.sessions[id] = csrf
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "proxy_admin", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, 200, map[string]string{"csrf_token": csrf, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

// authed wants a session cookie, and on a state-changing call its CSRF
// token, as the real API does.
func (f *fakeAdmin) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("proxy_admin")
		f.mu.Lock()
		csrf, ok := "", false
		if err == nil {
			csrf, ok = f.sessions[c.Value]
		}
		f.mu.Unlock()
		if !ok {
			apiError(w, 401, "unauthorized", "sign in first")
			return
		}
		if r.Method != "GET" && r.Method != "HEAD" && r.Header.Get("X-CSRF-Token") != csrf {
			f.mu.Lock()
			f.refused = append(f.refused, r.URL.Path)
			f.mu.Unlock()
			apiError(w, 403, "csrf", "missing or wrong X-CSRF-Token")
			return
		}
		next(w, r)
	}
}

func (f *fakeAdmin) session(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie("proxy_admin")
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, map[string]string{"csrf_token": f.sessions[c.Value], "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

func (f *fakeAdmin) providers(w http.ResponseWriter, r *http.Request) {
	until := time.Now().Add(90 * time.Second).UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"degraded","providers":[
{"name":"mock","protocol":"openai","status":"ok","conns_open":1,"pending":0,"keys":2,"in_flight":0,"queued":0,
 "breaker":{"state":"closed","window_requests":12,"window_failures":1,"consecutive_failures":0,"opens":0},
 "key_states":[{"label":"primary","state":"healthy","in_flight":0,"weight":1,"window_successes":11,"window_failures":0},
               {"label":"backup","state":"cooldown","in_flight":0,"weight":1,"cooldown_until":%q,"window_successes":0,"window_failures":1}]},
{"name":"codex","protocol":"openai-responses","status":"ok","conns_open":0,"pending":0,"keys":1,
 "accounts":[{"label":"me@example.com","path":"/var/lib/proxy/codex/me.json","expiry":%q,"quota":{"primary_used_percent":42}}]}]}`, until, until)
}

func (f *fakeAdmin) listKeys(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"keys": f.keys})
}

func (f *fakeAdmin) createKey(w http.ResponseWriter, r *http.Request) {
	var k fakeKey
	if err := json.NewDecoder(r.Body).Decode(&k); err != nil || k.Name == "" {
		apiError(w, 400, "invalid", "name: required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.keys {
		if o.Name == k.Name && o.RevokedAt == nil {
			apiError(w, 400, "invalid", "name: "+k.Name+" is taken")
			return
		}
	}
	k.ID = "vk_" + token(6)
	k.secret = "sk-px-" + token(20)
	k.Prefix = k.secret[:12]
	k.CreatedAt = time.Now().UTC()
	f.keys = append(f.keys, &k)
	writeJSON(w, 201, map[string]any{"key": k.secret, "id": k.ID, "item": &k})
}

func (f *fakeAdmin) key(id string) *fakeKey {
	for _, k := range f.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func (f *fakeAdmin) patchKey(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.key(r.PathValue("id"))
	if k == nil {
		apiError(w, 404, "not_found", "no such key")
		return
	}
	if err := json.NewDecoder(r.Body).Decode(k); err != nil {
		apiError(w, 400, "invalid", err.Error())
		return
	}
	writeJSON(w, 200, k)
}

func (f *fakeAdmin) rotateKey(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.key(r.PathValue("id"))
	if k == nil {
		apiError(w, 404, "not_found", "no such key")
		return
	}
	k.secret = "sk-px-" + token(20)
	k.Prefix = k.secret[:12]
	writeJSON(w, 200, map[string]any{"key": k.secret, "item": k})
}

func (f *fakeAdmin) revokeKey(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.key(r.PathValue("id"))
	if k == nil {
		apiError(w, 404, "not_found", "no such key")
		return
	}
	now := time.Now().UTC()
	k.RevokedAt = &now
	writeJSON(w, 200, k)
}

// use stands for a client request with a key: refused (401) once the key is
// revoked, else recorded in the usage and sent to the live log.
func (f *fakeAdmin) use(secret, model string, in, out int) int {
	f.mu.Lock()
	var k *fakeKey
	for _, o := range f.keys {
		if o.secret == secret {
			k = o
		}
	}
	if k == nil || k.RevokedAt != nil {
		f.mu.Unlock()
		return 401
	}
	rec := fakeRecord{time: time.Now().UTC(), key: k.ID, model: model, provider: "mock", status: 200, in: in, out: out, cost: float64(in+out) * 1e-6, latency: 12}
	f.records = append(f.records, rec)
	k.Spent.Tokens += in + out
	k.Spent.CostUSD += rec.cost
	ev, _ := json.Marshal(map[string]any{"time": rec.time.Format(time.RFC3339Nano), "key": k.Name, "client": k.Name, "model": model,
		"provider": "mock", "status": 200, "latency_ms": 12, "ttft_ms": 3, "input_tokens": in, "output_tokens": out, "stream": false})
	for c := range f.subs {
		select {
		case c <- ev:
		default:
		}
	}
	f.mu.Unlock()
	return 200
}

func (f *fakeAdmin) usage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	step := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[q.Get("bucket")]
	if step == 0 {
		step = time.Hour
	}
	type row struct {
		Time     time.Time `json:"time"`
		Group    string    `json:"group"`
		Requests int       `json:"requests"`
		Errors   int       `json:"errors"`
		In       int       `json:"input_tokens"`
		Out      int       `json:"output_tokens"`
		Cost     float64   `json:"cost_usd"`
		Latency  float64   `json:"latency_ms_avg"`
	}
	rows := map[string]*row{}
	f.mu.Lock()
	for _, rec := range f.records {
		g := map[string]string{"key": rec.key, "model": rec.model, "provider": rec.provider}[q.Get("group_by")]
		t := rec.time.Truncate(step)
		id := t.String() + "|" + g
		if rows[id] == nil {
			rows[id] = &row{Time: t, Group: g}
		}
		x := rows[id]
		x.Requests++
		x.In += rec.in
		x.Out += rec.out
		x.Cost += rec.cost
		x.Latency = rec.latency
	}
	f.mu.Unlock()
	out := []*row{}
	for _, x := range rows {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	writeJSON(w, 200, map[string]any{"bucket": q.Get("bucket"), "group_by": q.Get("group_by"), "rows": out})
}

func (f *fakeAdmin) usageRecords(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	out := []map[string]any{}
	for i := len(f.records) - 1; i >= 0; i-- {
		rec := f.records[i]
		out = append(out, map[string]any{"time": rec.time, "key_id": rec.key, "client": "", "protocol": "openai", "provider": rec.provider,
			"account": "primary", "model": rec.model, "status": rec.status, "input_tokens": rec.in, "output_tokens": rec.out,
			"cost_usd": rec.cost, "latency_ms": rec.latency, "ttft_ms": 3})
	}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"records": out})
}

func (f *fakeAdmin) events(w http.ResponseWriter, r *http.Request) {
	c := make(chan []byte, 64)
	f.mu.Lock()
	f.subs[c] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, c)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	fmt.Fprint(w, ": hello\n\n")
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-c:
			fmt.Fprintf(w, "event: request\ndata: %s\n\n", ev)
			fl.Flush()
		}
	}
}
