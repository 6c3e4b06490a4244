// Package consoletest drives the web console in a real headless Chromium for
// tests: sign in, move between pages, create and revoke keys, read what the
// pages show and take screenshots. It is used by the console's own tests and
// by the end-to-end tests that start a whole proxy.
//
// Chromium runs headless with a fresh profile and with every background
// service off (no network beyond the loopback server under test), and each
// wait is bounded by the browser's deadline.
package consoletest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's browser (package chromium).
const Chromium = "/usr/bin/chromium"

// Width and Height are the browser window's size, so screenshots of the
// viewport are this many pixels.
const (
	Width  = 1280
	Height = 900
)

// Browser is one headless Chromium with one tab on the console at Base.
type Browser struct {
	t     testing.TB
	ctx   context.Context
	Base  string // the admin listener, e.g. http://127.0.0.1:9090
	Shots string // where screenshots are written
}

// RequireChromium skips the test when Chromium is not installed; a test
// calls it first when it has costly setup to do before Open.
func RequireChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("browser test skipped: %s is missing (Debian package chromium; .ci/run installs it)", Chromium)
	}
}

// Open starts Chromium on the console at base, or skips the test when
// Chromium is not installed. Everything it does ends within timeout.
// Screenshots go to $CONSOLE_SCREENSHOTS when set, else to a temporary
// folder of the test.
func Open(t testing.TB, base string, timeout time.Duration) *Browser {
	t.Helper()
	RequireChromium(t)
	shots := os.Getenv("CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(Width, Height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	b := &Browser{t: t, ctx: bctx, Base: base, Shots: shots}
	b.Do("open the console", chromedp.EmulateViewport(Width, Height), chromedp.Navigate(base+"/"))
	return b
}

// Do runs steps and fails the test with what was being done.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: evaluating %s: %v", expr, err)
	}
	return v
}

// WaitFor waits until a JavaScript expression is true, for at most limit;
// the test fails with what was awaited and the page's text.
func (b *Browser) WaitFor(what, expr string, limit time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
			b.t.Fatalf("browser: waited %v for %s (err %v); the page says:\n%s", limit, what, err, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Text is the text of the first element sel (CSS) selects, once visible.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// SignIn types the password into the sign-in form and sends it.
func (b *Browser) SignIn(password string) {
	b.t.Helper()
	b.Do("sign in", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	Eval[string](b, `document.querySelector('#password').value = ''`)
	b.Do("sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
}

// Goto shows one page of the console (providers, keys, usage, log, config)
// by its link in the menu.
func (b *Browser) Goto(page string) {
	b.t.Helper()
	b.Do("open "+page, chromedp.Click(chromedp.CSS(`#nav a[data-page="`+page+`"]`)))
	b.WaitFor("the "+page+" page", `document.querySelector('#view').dataset.page === `+strconv.Quote(page), 5*time.Second)
}

// CreateKey fills the form of the keys page and returns the new key's id
// and the secret the page shows once.
func (b *Browser) CreateKey(name string, models string) (id, secret string) {
	b.t.Helper()
	b.Goto("keys")
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS(`#create-key input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`#create-key input[name="name"]`), name),
	}
	if models != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(`#create-key input[name="models"]`), models))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(`#create-key button[type="submit"]`)))
	b.Do("create key "+name, steps...)
	b.WaitFor("the new key's secret", `document.querySelector('#new-key-secret')`, 10*time.Second)
	secret = b.Text("#new-key-secret")
	row := `document.querySelector('#keys-table tr[data-name=` + strconv.Quote(name) + `]')`
	b.WaitFor("the row of key "+name, row, 5*time.Second)
	id = Eval[string](b, row+`.dataset.id`)
	return id, secret
}

// Revoke revokes a key from its row (the button asks twice) and waits until
// the row shows it revoked.
func (b *Browser) Revoke(id string) {
	b.t.Helper()
	b.Goto("keys")
	btn := `#keys-table tr[data-id=` + strconv.Quote(id) + `] button.revoke`
	b.Do("revoke "+id,
		chromedp.WaitVisible(chromedp.CSS(btn)),
		chromedp.Click(chromedp.CSS(btn)),
		chromedp.WaitVisible(chromedp.CSS(btn+".armed")),
		chromedp.Click(chromedp.CSS(btn)),
	)
	b.WaitFor("key "+id+" shown revoked", `document.querySelector('#keys-table tr[data-id=`+strconv.Quote(id)+`].revoked')`, 10*time.Second)
}

// Screenshot takes a PNG of the viewport (sel "") or of one element, writes
// it to Shots/name.png and returns the decoded image and the file's path.
func (b *Browser) Screenshot(name, sel string) (image.Image, string) {
	b.t.Helper()
	var (
		buf []byte
		err error
	)
	if sel == "" {
		buf, err = chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	} else {
		buf, err = chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS(sel), chromedp.NodeVisible))
	}
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("browser: screenshot %s is not a PNG: %v", name, err)
	}
	path := filepath.Join(b.Shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatalf("browser: writing %s: %v", path, err)
	}
	return img, path
}

// CountColor counts the pixels of img within tol of the colour hex
// ("#rrggbb") in each channel.
func CountColor(img image.Image, hex string, tol int) int {
	var r0, g0, b0 int
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &r0, &g0, &b0); err != nil {
		panic("consoletest: bad colour " + hex)
	}
	near := func(a uint32, want int) bool {
		d := int(a>>8) - want
		return d <= tol && d >= -tol
	}
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, r0) && near(g, g0) && near(bl, b0) {
				n++
			}
		}
	}
	return n
}
