package console_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/console"
	"github.com/llmproxy/proxy/proxy/console/consoletest"
)

// TestConsoleInChromium drives every page of the console in a real headless
// Chromium against the documented admin API (answered by fakeAdmin): a wrong
// password, sign-in, providers, a key created and used, its usage and the
// live log, revocation, the configuration and its reload, sign-out.
func TestConsoleInChromium(t *testing.T) {
	const password = "correct horse battery staple"
	fake := newFakeAdmin(password)
	mux := http.NewServeMux()
	fake.routes(mux)
	mux.Handle("/", console.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := consoletest.Open(t, srv.URL, 90*time.Second)
	t.Logf("cold start: the sign-in form shown %.0f ms after navigation began", consoletest.Eval[float64](b,
		`performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd`))

	b.SignIn("not the password")
	b.WaitFor("the sign-in error", `!document.querySelector('#login-error').hidden`, 5*time.Second)
	if got := b.Text("#login-error"); !strings.Contains(got, "401") {
		t.Errorf("wrong password shows %q, want the 401", got)
	}

	b.SignIn(password)
	b.WaitFor("the providers", `document.querySelector('.provider[data-name="mock"] tr[data-label="backup"]')`, 10*time.Second)
	if got := b.Text(`.provider[data-name="mock"] tr[data-label="backup"]`); !strings.Contains(got, "cooldown") || !strings.Contains(got, "left") {
		t.Errorf("the cooling key's row says %q, want its state and the time left", got)
	}
	if got := b.Text(`.provider[data-name="codex"] .accounts`); !strings.Contains(got, "me@example.com") || !strings.Contains(got, "primary used percent: 42") {
		t.Errorf("the subscription account's row says %q", got)
	}
	b.WaitFor("the sign-in buttons", `document.querySelector('#signin tr[data-provider="codex"] button.signin-start')`, 5*time.Second)
	if got := b.Text(`#signin tr[data-provider="codex"]`); !strings.Contains(got, "Sign in") || !strings.Contains(got, "Sign in with a code") {
		t.Errorf("the codex row of the sign-ins says %q, want a button per way", got)
	}
	if got := b.Text(`#signin tr[data-provider="gh"]`); !strings.Contains(got, "no credentials folder") {
		t.Errorf("a provider that cannot save an account shows %q, want why", got)
	}
	img, path := b.Screenshot("providers", "")
	if sz := img.Bounds().Size(); sz.X != consoletest.Width || sz.Y != consoletest.Height {
		t.Errorf("%s is %v, want %dx%d", path, sz, consoletest.Width, consoletest.Height)
	}
	// The header bar is drawn in its colour across the width.
	if n := consoletest.CountColor(img, "#1d2330", 2); n < consoletest.Width*20 {
		t.Errorf("%s: %d header pixels, want a bar across the top", path, n)
	}

	id, secret := b.CreateKey("team-search", "gpt-4o-mini")
	if !strings.HasPrefix(secret, "sk-px-") {
		t.Fatalf("the page shows the key as %q", secret)
	}

	b.Goto("log")
	if code := fake.use(secret, "gpt-4o-mini", 30, 10); code != 200 {
		t.Fatalf("the new key is refused: %d", code)
	}
	b.WaitFor("the request in the live log", `document.querySelector('#log-table tbody tr[data-model="gpt-4o-mini"][data-key="team-search"]')`, 10*time.Second)
	if got := b.Text("#log-count"); got != "1" {
		t.Errorf("log count %q, want 1", got)
	}
	// What clients send (a model name) reaches the page as text, not markup.
	const hostile = `<img src=x onerror="window.pwned=1">`
	fake.use(secret, hostile, 1, 1)
	b.WaitFor("the hostile model's row", `[...document.querySelectorAll('#log-table tbody tr')].some(r => r.dataset.model === `+strconv.Quote(hostile)+`)`, 10*time.Second)
	if consoletest.Eval[bool](b, `window.pwned === 1 || !!document.querySelector('#log-table img')`) {
		t.Error("a model name from a client became markup in the live log")
	}
	if got := b.Text("#log-table tbody tr"); !strings.Contains(got, hostile) {
		t.Errorf("the hostile model's row shows %q, want the name as text", got)
	}

	b.Goto("usage")
	b.WaitFor("the key's usage row", `document.querySelector('#usage-table tbody tr[data-group="`+id+`"]')`, 10*time.Second)
	if got := b.Text(`#usage-table tbody tr[data-group="` + id + `"]`); !strings.Contains(got, "team-search") || !strings.Contains(got, "31") {
		t.Errorf("usage row %q, want the key's name and its 30 input tokens", got)
	}
	if got := b.Text("#usage-records tbody"); !strings.Contains(got, "team-search") || !strings.Contains(got, "gpt-4o-mini") {
		t.Errorf("latest requests %q, want the key and the model", got)
	}
	b.WaitFor("the key's bar", `document.querySelector('#chart-requests rect.bar[data-group="`+id+`"]')`, 5*time.Second)
	chart, path := b.Screenshot("usage-chart", "#chart-requests")
	if n := consoletest.CountColor(chart, "#0b5cad", 6); n < 20 {
		t.Errorf("%s: %d pixels of the key's colour, want its bar drawn", path, n)
	}
	b.Screenshot("usage", "")

	// Limits: the row's editor sends a PATCH; the row shows the new limit.
	row := `#keys-table tr[data-id="` + id + `"]`
	b.Goto("keys")
	b.Do("edit limits", chromedpClick(row+" button.edit"))
	b.WaitFor("the limits editor", `document.querySelector('#edit-`+id+` input[name="rpm"]')`, 5*time.Second)
	consoletest.Eval[string](b, `document.querySelector('#edit-`+id+` input[name="rpm"]').value = '600'`)
	b.Do("save limits", chromedpClick("#edit-"+id+` button[type="submit"]`))
	b.WaitFor("the new limit in the row", `document.querySelector('`+row+`').textContent.includes('600')`, 5*time.Second)
	fake.mu.Lock()
	rpm := fake.key(id).RPM
	fake.mu.Unlock()
	if rpm != 600 {
		t.Errorf("rpm after the edit: %d, want 600", rpm)
	}

	// Rotation shows the new secret once; the old one stops working.
	b.Do("rotate", chromedpClick(row+" button.rotate"))
	b.WaitFor("the rotated secret", `document.querySelector('#new-key-secret') && document.querySelector('#new-key-secret').textContent !== `+strconv.Quote(secret), 5*time.Second)
	rotated := b.Text("#new-key-secret")
	if code := fake.use(secret, "gpt-4o-mini", 1, 1); code != 401 {
		t.Errorf("the secret before rotation gets %d, want 401", code)
	}
	if code := fake.use(rotated, "gpt-4o-mini", 1, 1); code != 200 {
		t.Errorf("the rotated secret gets %d, want 200", code)
	}
	secret = rotated

	b.Revoke(id)
	if code := fake.use(secret, "gpt-4o-mini", 1, 1); code != 401 {
		t.Errorf("a revoked key gets %d, want 401", code)
	}
	b.Screenshot("keys", "")

	b.Goto("config")
	b.WaitFor("the configuration", `document.querySelector('#config-json').textContent.includes('password_hash')`, 5*time.Second)
	if got := b.Text("#config-json"); strings.Contains(got, password) || !strings.Contains(got, `"***"`) {
		t.Errorf("configuration shown: %s", got)
	}
	b.Do("reload", chromedpClick("#config-reload"))
	b.WaitFor("the reload's answer", `document.querySelector('#config-message .notice.ok')`, 5*time.Second)

	fake.mu.Lock()
	refused, reloads := fake.refused, fake.reloads
	fake.mu.Unlock()
	if len(refused) > 0 {
		t.Errorf("the console sent state-changing calls without the CSRF token: %v", refused)
	}
	if reloads != 1 {
		t.Errorf("%d reloads, want 1", reloads)
	}

	b.Do("sign out", chromedpClick("#logout"))
	b.WaitFor("the sign-in form", `!document.querySelector('#login').hidden`, 5*time.Second)
}
