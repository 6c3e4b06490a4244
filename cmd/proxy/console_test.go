package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/console/consoletest"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"golang.org/x/crypto/bcrypt"
)

const consolePassword = "console test password"

// consoleProxy is this test binary running `proxy serve` (TestMain) with the
// admin listener, virtual keys in a SQLite file and the built-in mock
// provider, all on loopback.
type consoleProxy struct {
	client, admin string // base URLs
}

func startConsoleProxy(t *testing.T) consoleProxy {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	clientPort, adminPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`server:
  host: 127.0.0.1
  port: %s
  admin_addr: 127.0.0.1:%s
  api_keys: [config-key]
admin:
  password_hash: %q
store:
  enabled: true
  driver: sqlite
  dsn: %s
  flush_interval: 100ms
providers:
  - name: mock
    type: mock
    models: [gpt-4o-mini]
    mock:
      tokens: 9
`, clientPort, adminPort, hash, filepath.Join(dir, "proxy.db"))
	return runProxy(t, dir, cfg, clientPort, adminPort)
}

// runProxy runs this test binary as `proxy serve` on cfg (written into
// dir) until the test ends, and waits until both listeners answer.
func runProxy(t *testing.T, dir, cfg, clientPort, adminPort string) consoleProxy {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--config", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("proxy stderr:\n%s", stderr.String())
		}
	})
	p := consoleProxy{client: "http://127.0.0.1:" + clientPort, admin: "http://127.0.0.1:" + adminPort}
	deadline := time.Now().Add(15 * time.Second)
	for _, u := range []string{p.client + "/health", p.admin + "/"} {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the proxy does not answer %s: %v\n%s", u, err, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleServedOnlyByAdminListener: the page and its files on the admin
// listener, 404 on the client port.
func TestConsoleServedOnlyByAdminListener(t *testing.T) {
	p := startConsoleProxy(t)
	for _, path := range []string{"/", "/console.js", "/charts.js", "/console.css"} {
		if code, body := get(t, p.admin+path); code != 200 || len(body) == 0 {
			t.Errorf("admin listener GET %s: %d (%d bytes), want 200", path, code, len(body))
		}
		if code, body := get(t, p.client+path); code != 404 || strings.Contains(body, "proxy console") {
			t.Errorf("client port GET %s: %d, want 404 without the console", path, code)
		}
	}
	if code, body := get(t, p.admin+"/"); !strings.Contains(body, "proxy console") {
		t.Errorf("the admin listener's / (%d) is not the console", code)
	}
}

// TestConsoleAdminCallsNeedCSRF: with a console session, a state-changing
// call without the CSRF token is refused (403 csrf) and changes nothing;
// with it, it succeeds.
func TestConsoleAdminCallsNeedCSRF(t *testing.T) {
	p := startConsoleProxy(t)
	call := func(method, path, body string, hdr map[string]string) (int, string, *http.Response) {
		req, _ := http.NewRequest(method, p.admin+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp
	}
	code, body, _ := call("POST", "/api/v1/login", `{"password":"wrong"}`, nil)
	if code != 401 {
		t.Fatalf("wrong password: %d %s, want 401", code, body)
	}
	code, body, resp := call("POST", "/api/v1/login", `{"password":"`+consolePassword+`"}`, nil)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "proxy_admin" {
			cookie = c.Name + "=" + c.Value
		}
	}
	csrf := between(body, `"csrf_token":"`, `"`)
	if cookie == "" || csrf == "" {
		t.Fatalf("login gave cookie %q, token %q", cookie, csrf)
	}
	code, body, _ = call("POST", "/api/v1/keys", `{"name":"no-token"}`, map[string]string{"Cookie": cookie})
	if code != 403 || !strings.Contains(body, `"csrf"`) {
		t.Errorf("create without the CSRF token: %d %s, want 403 csrf", code, body)
	}
	code, body, _ = call("POST", "/api/v1/keys", `{"name":"cross-site"}`, map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example"})
	if code != 403 {
		t.Errorf("create from another origin: %d %s, want 403", code, body)
	}
	code, body, _ = call("GET", "/api/v1/keys", "", map[string]string{"Cookie": cookie})
	if code != 200 || strings.Contains(body, "no-token") || strings.Contains(body, "cross-site") {
		t.Errorf("keys after the refused calls: %d %s", code, body)
	}
	code, body, _ = call("POST", "/api/v1/keys", `{"name":"with-token"}`, map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf})
	if code != 201 {
		t.Errorf("create with the CSRF token: %d %s, want 201", code, body)
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return ""
}

// TestConsoleEndToEnd drives the console of a real proxy in headless
// Chromium: a wrong password (401 shown), sign-in, the providers, a key
// created in the page and used by the OpenAI SDK on the client port, its
// request in the live log and in the usage, revocation, and the SDK's next
// request refused in OpenAI's error shape. Screenshots are checked.
func TestConsoleEndToEnd(t *testing.T) {
	consoletest.RequireChromium(t)
	p := startConsoleProxy(t)
	b := consoletest.Open(t, p.admin, 2*time.Minute)

	b.SignIn("not the password")
	b.WaitFor("the sign-in error", `!document.querySelector('#login-error').hidden`, 10*time.Second)
	if got := b.Text("#login-error"); !strings.Contains(got, "401") {
		t.Errorf("wrong password shows %q, want the 401", got)
	}
	b.SignIn(consolePassword)
	b.WaitFor("the mock provider", `document.querySelector('.provider[data-name="mock"]')`, 10*time.Second)
	if got := b.Text(`.provider[data-name="mock"]`); !strings.Contains(got, "up") || !strings.Contains(got, "protocol openai") || !strings.Contains(got, "Circuit breaker: closed") {
		t.Errorf("the mock provider's card says %q", got)
	}
	img, path := b.Screenshot("e2e-providers", "")
	if sz := img.Bounds().Size(); sz.X != consoletest.Width || sz.Y != consoletest.Height {
		t.Errorf("%s is %v, want %dx%d", path, sz, consoletest.Width, consoletest.Height)
	}
	if n := consoletest.CountColor(img, "#1d2330", 2); n < consoletest.Width*20 {
		t.Errorf("%s: %d header pixels, want the bar across the top", path, n)
	}

	id, secret := b.CreateKey("e2e-key", "gpt-4o-mini")
	if !strings.HasPrefix(secret, "sk-") {
		t.Fatalf("the page shows the key as %q", secret)
	}
	sdk := openai.NewClient(option.WithBaseURL(p.client+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	ask := func() (*openai.ChatCompletion, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
	}

	b.Goto("log")
	res, err := ask()
	if err != nil {
		t.Fatalf("the SDK with the new key: %v", err)
	}
	b.WaitFor("the request in the live log", `document.querySelector('#log-table tbody tr[data-model="gpt-4o-mini"][data-key="e2e-key"]')`, 15*time.Second)
	if got := b.Text(`#log-table tbody tr[data-key="e2e-key"]`); !strings.Contains(got, "200") || !strings.Contains(got, "mock") {
		t.Errorf("live log row %q, want status 200 from mock", got)
	}

	b.Goto("usage")
	row := `#usage-table tbody tr[data-group="` + id + `"]`
	for deadline := time.Now().Add(15 * time.Second); ; {
		if consoletest.Eval[bool](b, `!!document.querySelector('`+row+`')`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usage row for %s: %s", id, consoletest.Eval[string](b, `document.querySelector('#usage').innerText`))
		}
		b.Do("refresh usage", chromedpClick("#usage-refresh"))
		time.Sleep(300 * time.Millisecond)
	}
	if got := b.Text(row); !strings.Contains(got, "e2e-key") || !strings.Contains(got, strconv.FormatInt(res.Usage.CompletionTokens, 10)) {
		t.Errorf("usage row %q, want the key's name and its %d output tokens", got, res.Usage.CompletionTokens)
	}
	b.WaitFor("the key's bar", `document.querySelector('#chart-requests rect.bar[data-group="`+id+`"]')`, 5*time.Second)
	chart, path := b.Screenshot("e2e-usage-chart", "#chart-requests")
	if n := consoletest.CountColor(chart, "#0b5cad", 6); n < 20 {
		t.Errorf("%s: %d pixels of the key's colour, want its bar", path, n)
	}
	b.Screenshot("e2e-usage", "")

	// Limits edited in the page reach the key (PATCH), and the row shows them.
	keyRow := `#keys-table tr[data-id="` + id + `"]`
	b.Goto("keys")
	b.Do("edit limits", chromedpClick(keyRow+" button.edit"))
	b.WaitFor("the limits editor", `document.querySelector('#edit-`+id+` input[name="rpm"]')`, 5*time.Second)
	consoletest.Eval[string](b, `document.querySelector('#edit-`+id+` input[name="rpm"]').value = '600'`)
	b.Do("save limits", chromedpClick("#edit-"+id+` button[type="submit"]`))
	b.WaitFor("the new limit in the row", `document.querySelector('`+keyRow+`').textContent.includes('600')`, 10*time.Second)
	if _, err := ask(); err != nil {
		t.Fatalf("the SDK after the limits changed: %v", err)
	}

	b.Revoke(id)
	b.Screenshot("e2e-keys", "")
	_, err = ask()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || (apiErr.StatusCode != 401 && apiErr.StatusCode != 403) {
		t.Fatalf("the SDK with the revoked key: %v, want 401/403", err)
	}
	if apiErr.Message == "" || !strings.Contains(string(apiErr.RawJSON()), "message") {
		t.Errorf("refusal not in OpenAI's error shape: %s", apiErr.RawJSON())
	}

	// The running configuration, its secrets masked, and a reload.
	b.Goto("config")
	b.WaitFor("the configuration", `document.querySelector('#config-json').textContent.includes('admin_addr')`, 10*time.Second)
	if got := b.Text("#config-json"); strings.Contains(got, "config-key") || strings.Contains(got, "$2a$") || !strings.Contains(got, "***") {
		t.Errorf("the configuration page shows a secret or masks nothing:\n%s", got)
	}
	b.Do("reload", chromedpClick("#config-reload"))
	b.WaitFor("the reload's answer", `document.querySelector('#config-message .notice')`, 10*time.Second)
	if got := b.Text("#config-message"); !strings.Contains(got, "Reloaded") {
		t.Errorf("reload says %q", got)
	}
	b.Screenshot("e2e-config", "")
}
