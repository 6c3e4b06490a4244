package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	e2eAdminKey  = "admin-e2e-key-4b1d9c"
	e2eClientKey = "alice-e2e-key-77f0"
	e2eHeader    = "hdr-e2e-secret-5a5a"
)

// adminAPI calls a running proxy's admin API and keeps every body it got,
// so that the test can check no secret leaked into any of them.
type adminAPI struct {
	t      *testing.T
	base   string
	bodies []string
}

func (a *adminAPI) call(method, path, body string, hdr map[string]string) (int, http.Header, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a.bodies = append(a.bodies, string(b))
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			a.t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, resp.Header, out
}

var asAdmin = map[string]string{"Authorization": "Bearer " + e2eAdminKey}

// clientCall sends a chat request to the client port with key.
func clientCall(t *testing.T, base, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("client request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const e2eChat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// TestAdminAPIEndToEnd scripts a real proxy process through its admin API
// over loopback, as the documentation tells an operator to: keys created,
// listed, rotated and revoked (a key revoked while its stream runs is
// refused at once, the stream finishes), usage aggregates and records, the
// live log, the masked configuration, a reload (and a bad one kept out),
// CSRF refused, and wrong credentials answered 401, then rate-limited.
// No admin or client secret appears in any body but the one that hands a
// new key out.
func TestAdminAPIEndToEnd(t *testing.T) {
	dir := t.TempDir()
	clientPort, adminPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`server:
  host: 127.0.0.1
  port: %s
  admin_addr: 127.0.0.1:%s
admin:
  key: %s
clients:
  - name: alice
    key: %s
store:
  enabled: true
  dsn: %s
  flush_interval: 50ms
providers:
  - name: mock
    type: mock
    models: [gpt-4o-mini]
    headers: {X-Upstream-Auth: %s}
    mock:
      tokens: 30
      delay: 30ms
`, clientPort, adminPort, e2eAdminKey, e2eClientKey, filepath.Join(dir, "proxy.db"), e2eHeader)
	p := runProxy(t, dir, cfg, clientPort, adminPort)
	a := &adminAPI{t: t, base: p.admin}

	// The live log, subscribed before anything happens.
	evReq, _ := http.NewRequest("GET", p.admin+"/api/v1/events", nil)
	evReq.Header.Set("Authorization", "Bearer "+e2eAdminKey)
	evResp, err := http.DefaultClient.Do(evReq)
	if err != nil || evResp.StatusCode != 200 || evResp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", err, evResp)
	}
	defer evResp.Body.Close()
	events := make(chan map[string]any, 64)
	go func() {
		sc := bufio.NewScanner(evResp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev map[string]any
				if json.Unmarshal([]byte(d), &ev) == nil {
					events <- ev
				}
			}
		}
		close(events)
	}()

	// Create, list (no secret), use.
	st, _, body := a.call("POST", "/api/v1/keys", `{"name":"team","rpm":1000,"labels":{"env":"test"}}`, asAdmin)
	secret, _ := body["key"].(string)
	id, _ := body["id"].(string)
	if st != 201 || secret == "" || id == "" {
		t.Fatalf("create: %d %v", st, body)
	}
	createBody := len(a.bodies) - 1
	if st, _, body = a.call("GET", "/api/v1/keys", "", asAdmin); st != 200 || len(body["keys"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, body)
	}
	if code, b := clientCall(t, p.client, secret, e2eChat); code != 200 {
		t.Fatalf("the new key: %d %s", code, b)
	}
	select {
	case ev := <-events:
		if ev["key"] != "team" || ev["model"] != "gpt-4o-mini" || ev["status"] != float64(200) {
			t.Fatalf("live log event %v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no live log event for the request")
	}

	// Revoked while its stream runs: the next request is refused at once
	// (also one with a large body), the stream finishes.
	req, _ := http.NewRequest("POST", p.client+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	sresp, err := http.DefaultClient.Do(req)
	if err != nil || sresp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, sresp)
	}
	defer sresp.Body.Close()
	srd := bufio.NewReader(sresp.Body)
	if line, err := srd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first stream line %q %v", line, err)
	}
	if st, _, body = a.call("DELETE", "/api/v1/keys/"+id, "", asAdmin); st != 200 || body["revoked_at"] == nil {
		t.Fatalf("revoke: %d %v", st, body)
	}
	if code, b := clientCall(t, p.client, secret, e2eChat); code != 401 || !strings.Contains(b, "invalid API key") {
		t.Fatalf("a revoked key: %d %s", code, b)
	}
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<20) + `"}]}`
	if code, b := clientCall(t, p.client, secret, big); code != 401 {
		t.Fatalf("a revoked key with a 2 MB body: %d %s", code, b)
	}
	rest, _ := io.ReadAll(srd)
	if !strings.Contains(string(rest), "data: [DONE]") {
		t.Fatalf("the running stream was cut: %q", rest)
	}

	// Rotate: the old secret stops at once, the new one works.
	st, _, body = a.call("POST", "/api/v1/keys", `{"name":"rotating"}`, asAdmin)
	old, rid := body["key"].(string), body["id"].(string)
	if st != 201 || old == "" {
		t.Fatalf("create: %d %v", st, body)
	}
	oldBody := len(a.bodies) - 1
	st, _, body = a.call("POST", "/api/v1/keys/"+rid+"/rotate", `{}`, asAdmin)
	next, _ := body["key"].(string)
	if st != 200 || next == "" || next == old {
		t.Fatalf("rotate: %d %v", st, body)
	}
	rotateBody := len(a.bodies) - 1
	if code, _ := clientCall(t, p.client, old, e2eChat); code != 401 {
		t.Fatalf("the rotated-out secret: %d", code)
	}
	if code, b := clientCall(t, p.client, next, e2eChat); code != 200 {
		t.Fatalf("the rotated-in secret: %d %s", code, b)
	}

	// Usage: the team key's two served requests and two refusals are
	// recorded against it; records name the key.
	var rows []any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, _, body = a.call("GET", "/api/v1/usage?group_by=key&key="+id, "", asAdmin)
		rows, _ = body["rows"].([]any)
		if len(rows) == 1 && rows[0].(map[string]any)["requests"] == float64(2) {
			break
		}
	}
	if len(rows) != 1 || rows[0].(map[string]any)["group"] != id || rows[0].(map[string]any)["requests"] != float64(2) {
		t.Fatalf("usage by key: %v", rows)
	}
	st, _, body = a.call("GET", "/api/v1/usage/records?key="+id, "", asAdmin)
	if recs, _ := body["records"].([]any); st != 200 || len(recs) != 2 {
		t.Fatalf("records: %d %v", st, body)
	}

	// The running configuration, masked.
	st, _, body = a.call("GET", "/api/v1/config", "", asAdmin)
	if st != 200 || !strings.Contains(a.bodies[len(a.bodies)-1], `"***"`) || body["providers"] == nil {
		t.Fatalf("config: %d %v", st, body)
	}

	// Reload: a good file is taken; a bad one is refused with the reason
	// and the running configuration kept.
	if st, _, body = a.call("POST", "/api/v1/config/reload", "", asAdmin); st != 200 || body["reloaded"] != true {
		t.Fatalf("reload: %d %v", st, body)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, "type: mock", "type: nonsense", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _, body = a.call("POST", "/api/v1/config/reload", "", asAdmin); st != 422 || !strings.Contains(fmt.Sprint(body), "nonsense") {
		t.Fatalf("bad reload: %d %v", st, body)
	}
	if code, b := clientCall(t, p.client, e2eClientKey, e2eChat); code != 200 {
		t.Fatalf("after a refused reload: %d %s", code, b)
	}

	// CSRF: the admin key does not make a cross-origin call acceptable.
	evil := map[string]string{"Authorization": "Bearer " + e2eAdminKey, "Origin": "http://evil.example"}
	if st, _, body = a.call("POST", "/api/v1/keys", `{"name":"evil"}`, evil); st != 403 {
		t.Fatalf("cross-origin create: %d %v", st, body)
	}

	// Wrong and missing credentials: 401, then 429 for the address.
	for i := range 10 {
		hdr := map[string]string{"Authorization": "Bearer wrong-" + fmt.Sprint(i)}
		if i%2 == 1 {
			hdr = nil
		}
		if st, h, body := a.call("GET", "/api/v1/keys", "", hdr); st != 401 || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("wrong credentials %d: %d %v", i, st, body)
		}
	}
	if st, h, body := a.call("GET", "/api/v1/keys", "", asAdmin); st != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures: %d %v", st, body)
	}

	// No secret in any body, but the new key in the answer that made it.
	for i, b := range a.bodies {
		for _, s := range []string{e2eAdminKey, e2eClientKey, e2eHeader, secret, old, next} {
			if strings.Contains(b, s) && !(i == createBody && s == secret) && !(i == rotateBody && s == next) && !(i == oldBody && s == old) {
				t.Errorf("body %d shows a secret (%.12s...): %s", i, s, b)
			}
		}
	}
}

// TestAdminListenerRefusesForeignHosts: a request naming another host (a
// page whose DNS name was rebound to 127.0.0.1) gets 403 on every route of
// the admin listener, pprof included; loopback names are served.
func TestAdminListenerRefusesForeignHosts(t *testing.T) {
	p := startConsoleProxy(t)
	port := p.admin[strings.LastIndexByte(p.admin, ':')+1:]
	for _, path := range []string{"/", "/api/v1/session", "/debug/pprof/cmdline"} {
		for _, tc := range []struct {
			host string
			ok   bool
		}{
			{"evil.example:" + port, false},
			{"evil.example", false},
			{"localhost:" + port, true},
			{"127.0.0.1:" + port, true},
			{"[::1]:" + port, true},
		} {
			req, _ := http.NewRequest("GET", p.admin+path, nil)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if refused := resp.StatusCode == 403 && strings.Contains(string(b), `"host"`); refused == tc.ok {
				t.Errorf("GET %s with Host %s: %d %.80s", path, tc.host, resp.StatusCode, b)
			}
		}
	}
}
