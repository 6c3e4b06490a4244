package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/admin"
	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/sqlstore"
	"golang.org/x/crypto/bcrypt"
)

const adminKey = "admin-key-0123456789abcdef"

type fixture struct {
	url string
	svc *tenants.Service
	hc  *http.Client
}

func start(t *testing.T, reload func() error) fixture {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := tenants.New(context.Background(), tenants.Options{Store: st, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	// The cheapest cost: bcrypt at 12 takes seconds per login under -race.
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := admin.New(admin.Options{Key: adminKey, PasswordHash: string(hash), Tenants: svc, Heartbeat: 50 * time.Millisecond,
		Providers: func() []byte { return []byte(`{"status":"ok","providers":[]}`) },
		Config:    func() []byte { return []byte(`{"server":{}}`) },
		Reload:    reload})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return fixture{url: srv.URL, svc: svc, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (f fixture) call(t *testing.T, method, path, body string, hdr map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, resp.Header, out
}

var withKey = map[string]string{"Authorization": "Bearer " + adminKey}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestAdminAuthAndRateLimit(t *testing.T) {
	f := start(t, nil)
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Cookie": admin.CookieName + "=forged"}} {
		if st, _, body := f.call(t, "GET", "/api/v1/keys", "", hdr); st != 401 || errCode(body) != "unauthorized" {
			t.Fatalf("%v: %d %v", hdr, st, body)
		}
	}
	if st, _, _ := f.call(t, "GET", "/api/v1/keys", "", withKey); st != 200 {
		t.Fatalf("with the key: %d", st)
	}
	for i := 3; i < 10; i++ {
		f.call(t, "POST", "/api/v1/login", `{"password":"guess"}`, nil)
	}
	st, h, body := f.call(t, "GET", "/api/v1/keys", "", withKey)
	if st != 429 || errCode(body) != "rate_limited" || h.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures even the right key waits: %d %v", st, body)
	}
}

func TestAdminKeysCRUD(t *testing.T) {
	f := start(t, nil)
	st, _, body := f.call(t, "POST", "/api/v1/keys", `{"name":"team","models":["fast"],"rpm":10,"labels":{"env":"prod"},
		"budget":{"kind":"usd","amount":5,"period":"month"}}`, withKey)
	if st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	secret, _ := body["key"].(string)
	id, _ := body["id"].(string)
	if !strings.HasPrefix(secret, tenants.KeyPrefix) || id == "" {
		t.Fatalf("create answer %v", body)
	}
	if f.svc.Lookup([]byte(secret), time.Now()) == nil {
		t.Fatal("the created key does not work")
	}
	st, _, body = f.call(t, "GET", "/api/v1/keys", "", withKey)
	if list, _ := body["keys"].([]any); st != 200 || len(list) != 1 || strings.Contains(mustJSON(body), secret) {
		t.Fatalf("list (must not show the secret): %v", body)
	}
	if st, _, body = f.call(t, "PATCH", "/api/v1/keys/"+id, `{"rpm":20,"models":null}`, withKey); st != 200 || body["rpm"] != float64(20) || body["models"] != nil {
		t.Fatalf("patch: %d %v", st, body)
	}
	if st, _, body = f.call(t, "PATCH", "/api/v1/keys/"+id, `{"rpm":-1}`, withKey); st != 400 || errCode(body) != "invalid" {
		t.Fatalf("bad patch: %d %v", st, body)
	}
	if st, _, body = f.call(t, "POST", "/api/v1/keys", `{"name":"x","colour":"red"}`, withKey); st != 400 {
		t.Fatalf("unknown field: %d %v", st, body)
	}
	st, _, body = f.call(t, "POST", "/api/v1/keys/"+id+"/rotate", `{"grace":"1m"}`, withKey)
	next, _ := body["key"].(string)
	if st != 200 || next == secret || f.svc.Lookup([]byte(next), time.Now()) == nil || f.svc.Lookup([]byte(secret), time.Now()) == nil {
		t.Fatalf("rotate with grace: %d %v", st, body)
	}
	if st, _, body = f.call(t, "POST", "/api/v1/keys/"+id+"/reset", "", withKey); st != 200 {
		t.Fatalf("reset: %d %v", st, body)
	}
	if st, _, body = f.call(t, "DELETE", "/api/v1/keys/"+id, "", withKey); st != 200 || body["revoked_at"] == nil {
		t.Fatalf("revoke: %d %v", st, body)
	}
	if f.svc.Lookup([]byte(next), time.Now()) != nil {
		t.Fatal("a revoked key still works")
	}
	if st, _, body = f.call(t, "GET", "/api/v1/keys/vk_missing", "", withKey); st != 404 || errCode(body) != "not_found" {
		t.Fatalf("missing: %d %v", st, body)
	}
	if st, _, body = f.call(t, "GET", "/api/v1/keys?active=1", "", withKey); len(body["keys"].([]any)) != 0 {
		t.Fatalf("active list: %d %v", st, body)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestAdminSessionAndCSRF(t *testing.T) {
	f := start(t, nil)
	if st, _, _ := f.call(t, "POST", "/api/v1/login", `{"password":"wrong"}`, nil); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	st, _, body := f.call(t, "POST", "/api/v1/login", `{"password":"correct horse"}`, nil)
	csrf, _ := body["csrf_token"].(string)
	if st != 200 || len(csrf) < 32 {
		t.Fatalf("login: %d %v", st, body)
	}
	if st, _, _ := f.call(t, "GET", "/api/v1/keys", "", nil); st != 200 {
		t.Fatalf("GET with the session cookie: %d", st)
	}
	if st, _, body := f.call(t, "POST", "/api/v1/keys", `{"name":"a"}`, nil); st != 403 || errCode(body) != "csrf" {
		t.Fatalf("POST without the CSRF token: %d %v", st, body)
	}
	// A token one character off (a token that starts with "0" gets "1").
	wrong := "0" + csrf[1:]
	if wrong == csrf {
		wrong = "1" + csrf[1:]
	}
	if st, _, _ := f.call(t, "POST", "/api/v1/keys", `{"name":"a"}`, map[string]string{admin.HeaderCSRF: wrong}); st != 403 {
		t.Fatalf("POST with a wrong CSRF token: %d", st)
	}
	tok := map[string]string{admin.HeaderCSRF: csrf}
	if st, _, body := f.call(t, "POST", "/api/v1/keys", `{"name":"a"}`, tok); st != 201 {
		t.Fatalf("POST with the CSRF token: %d %v", st, body)
	}
	evil := map[string]string{admin.HeaderCSRF: csrf, "Origin": "http://evil.example"}
	if st, _, body := f.call(t, "POST", "/api/v1/keys", `{"name":"b"}`, evil); st != 403 || errCode(body) != "csrf" {
		t.Fatalf("cross-origin POST: %d %v", st, body)
	}
	evilKey := map[string]string{"Authorization": "Bearer " + adminKey, "Origin": "http://evil.example"}
	if st, _, _ := f.call(t, "DELETE", "/api/v1/keys/x", "", evilKey); st != 403 {
		t.Fatalf("cross-origin with the key: %d", st)
	}
	// Every state-changing call from another origin is refused, whatever
	// credential it carries; so is a sign-in (login CSRF).
	for _, tc := range []struct{ method, path, body, header, value string }{
		{"POST", "/api/v1/keys", `{"name":"c"}`, "Origin", "null"},
		{"POST", "/api/v1/keys", `{"name":"c"}`, "Referer", "http://evil.example/page"},
		{"PATCH", "/api/v1/keys/x", `{"rpm":1}`, "Origin", "http://evil.example"},
		{"POST", "/api/v1/keys/x/rotate", `{}`, "Origin", "http://evil.example"},
		{"POST", "/api/v1/keys/x/reset", ``, "Origin", "http://evil.example"},
		{"POST", "/api/v1/config/reload", ``, "Origin", "http://evil.example"},
		{"POST", "/api/v1/logout", ``, "Origin", "http://evil.example"},
		{"POST", "/api/v1/login", `{"password":"correct horse"}`, "Origin", "http://evil.example"},
	} {
		hdr := map[string]string{admin.HeaderCSRF: csrf, tc.header: tc.value}
		if st, _, body := f.call(t, tc.method, tc.path, tc.body, hdr); st != 403 || errCode(body) != "csrf" {
			t.Fatalf("%s %s with %s %s: %d %v", tc.method, tc.path, tc.header, tc.value, st, body)
		}
	}
	if st, _, body := f.call(t, "GET", "/api/v1/keys", "", nil); st != 200 || len(body["keys"].([]any)) != 1 {
		t.Fatalf("the refused calls changed something (or ended the session): %d %v", st, body)
	}
	// The console's own pages are same-origin.
	same := map[string]string{admin.HeaderCSRF: csrf, "Origin": f.url}
	if st, _, body := f.call(t, "POST", "/api/v1/keys", `{"name":"same-origin"}`, same); st != 201 {
		t.Fatalf("same-origin POST: %d %v", st, body)
	}
	if st, _, body := f.call(t, "GET", "/api/v1/session", "", nil); st != 200 || body["csrf_token"] != csrf {
		t.Fatalf("session: %d %v", st, body)
	}
	if st, _, _ := f.call(t, "POST", "/api/v1/logout", "", tok); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	if st, _, _ := f.call(t, "GET", "/api/v1/keys", "", nil); st != 401 {
		t.Fatalf("after logout: %d", st)
	}
}

func TestAdminUsageAndEvents(t *testing.T) {
	f := start(t, nil)
	_, kv, err := f.svc.Create(context.Background(), tenants.Key{Name: "team"})
	if err != nil {
		t.Fatal(err)
	}
	e := f.svc.Table().ByID(kv.ID)
	req, _ := http.NewRequest("GET", f.url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := f.hc.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", err, resp)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q", line)
	}
	now := time.Now().UTC()
	for _, m := range []string{"gpt-4o-mini", "gpt-4o-mini", "claude"} {
		f.svc.Finish(e, &tenants.Record{Time: now, Client: "team", Protocol: "openai", Provider: "openai", Model: m, Status: 200,
			Input: 10, Output: 4, CostUSD: 0.5, Latency: 300 * time.Millisecond})
	}
	var data string
	for data == "" {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			data = line[6:]
		}
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(data), &ev); err != nil || ev["key"] != "team" || ev["model"] != "gpt-4o-mini" || ev["latency_ms"] != float64(300) {
		t.Fatalf("event %s", data)
	}
	var rows []any
	deadline := time.Now().Add(5 * time.Second)
	for len(rows) < 2 && time.Now().Before(deadline) {
		_, _, body := f.call(t, "GET", "/api/v1/usage?group_by=model&bucket=day", "", withKey)
		rows, _ = body["rows"].([]any)
		time.Sleep(20 * time.Millisecond)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %v", rows)
	}
	r1 := rows[1].(map[string]any) // claude < gpt-4o-mini
	if r1["group"] != "gpt-4o-mini" || r1["requests"] != float64(2) || r1["cost_usd"] != float64(1) {
		t.Fatalf("row %v", r1)
	}
	if st, _, body := f.call(t, "GET", "/api/v1/usage/records?key="+kv.ID+"&limit=2", "", withKey); st != 200 || len(body["records"].([]any)) != 2 {
		t.Fatalf("records %d %v", st, body)
	}
	for _, q := range []string{"bucket=week", "group_by=colour", "from=yesterday", "limit=0", "bucket=minute&from=2000-01-01T00:00:00Z"} {
		if st, _, body := f.call(t, "GET", "/api/v1/usage?"+q, "", withKey); st != 400 || errCode(body) != "invalid" {
			t.Fatalf("%s: %d %v", q, st, body)
		}
	}
	if kv2, _ := f.svc.Get(context.Background(), kv.ID); kv2.Name != "team" {
		t.Fatal(kv2)
	}
}

func TestAdminReloadAndConfig(t *testing.T) {
	fail := false
	f := start(t, func() error {
		if fail {
			return errBad
		}
		return nil
	})
	if st, _, body := f.call(t, "POST", "/api/v1/config/reload", "", withKey); st != 200 || body["reloaded"] != true {
		t.Fatalf("reload: %d %v", st, body)
	}
	fail = true
	if st, _, body := f.call(t, "POST", "/api/v1/config/reload", "", withKey); st != 422 || errCode(body) != "invalid" {
		t.Fatalf("bad reload: %d %v", st, body)
	}
	if st, _, body := f.call(t, "GET", "/api/v1/providers", "", withKey); st != 200 || body["status"] != "ok" {
		t.Fatalf("providers: %d %v", st, body)
	}
	if st, _, _ := f.call(t, "GET", "/api/v1/nothing", "", withKey); st != 404 {
		t.Fatalf("unknown: %d", st)
	}
}

type badErr struct{}

func (badErr) Error() string { return "providers[0].type: unknown" }

var errBad = badErr{}
