package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestKeysCommand: proxy keys against a running proxy's admin API: a key
// created with limits and a budget works on the client port, is listed
// (never its secret), rotated (the old secret refused) and revoked; the
// mistakes say what is wrong.
func TestKeysCommand(t *testing.T) {
	dir := t.TempDir()
	clientPort, adminPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`server:
  host: 127.0.0.1
  port: %s
  admin_addr: 127.0.0.1:%s
  api_keys: [config-key-123]
admin:
  key: %s
store:
  enabled: true
  dsn: %s
providers:
  - name: mock
    type: mock
    models: [gpt-4o-mini]
`, clientPort, adminPort, e2eAdminKey, filepath.Join(dir, "proxy.db"))
	p := runProxy(t, dir, cfg, clientPort, adminPort)
	t.Setenv("PROXY_ADMIN_KEY", e2eAdminKey)
	t.Setenv("PROXY_ADMIN_URL", p.admin)
	keys := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"keys"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := keys("create", "--name", "ci", "--models", "gpt-4o-mini", "--rpm", "60", "--budget-usd", "5",
		"--period", "day", "--label", "team=search", "--expires", "720h")
	if code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	secret := strings.SplitN(out, "\n", 2)[0]
	id := between(out, "# id ", ",")
	if !strings.HasPrefix(secret, "sk-px-") || !strings.HasPrefix(id, "vk_") {
		t.Fatalf("create printed %q", out)
	}
	if st, b := clientCall(t, p.client, secret, e2eChat); st != 200 {
		t.Fatalf("the created key: %d %s", st, b)
	}
	code, out, _ = keys("list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") || !strings.Contains(out, "per day") ||
		strings.Contains(out, secret) {
		t.Fatalf("list: %d\n%s", code, out)
	}
	code, out, _ = keys("rotate", id)
	next := strings.SplitN(out, "\n", 2)[0]
	if code != 0 || !strings.HasPrefix(next, "sk-px-") || next == secret {
		t.Fatalf("rotate: %d %s", code, out)
	}
	if st, _ := clientCall(t, p.client, secret, e2eChat); st != 401 {
		t.Fatalf("the rotated-out secret: %d", st)
	}
	if code, out, _ = keys("revoke", id); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if st, _ := clientCall(t, p.client, next, e2eChat); st != 401 {
		t.Fatalf("a revoked key: %d", st)
	}
	if code, out, _ = keys("list", "--active"); code != 0 || strings.Contains(out, id) {
		t.Fatalf("list --active: %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"create"}, 2, "--name is required"},
		{[]string{"create", "--name", "x", "--budget-usd", "-1"}, 2, "positive number"},
		{[]string{"create", "--name", "x", "--expires", "soon"}, 2, "--expires"},
		{[]string{"revoke"}, 2, "give one key id"},
		{[]string{"revoke", "vk_nothing"}, 1, "404"},
		{[]string{"create", "--name", "x", "--rpm", "-5"}, 1, "HTTP 400"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	} {
		code, out, errs := keys(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: %d %q %q, want %d and %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	t.Setenv("PROXY_ADMIN_KEY", "wrong")
	if code, _, errs := keys("list"); code != 1 || !strings.Contains(errs, "401") {
		t.Fatalf("a wrong admin key: %d %s", code, errs)
	}
	t.Setenv("PROXY_ADMIN_KEY", "")
	if code, _, errs := keys("list"); code != 2 || !strings.Contains(errs, "PROXY_ADMIN_KEY") {
		t.Fatalf("no admin key: %d %s", code, errs)
	}
}

// TestAdminHashPassword: the printed hash verifies the password; a short
// password is refused.
func TestAdminHashPassword(t *testing.T) {
	var out, errb bytes.Buffer
	if code := hashPassword([]string{"hash-password"}, strings.NewReader("correct horse battery\n"), &out, &errb); code != 0 {
		t.Fatalf("%d %s", code, errb.String())
	}
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("correct horse battery")); err != nil {
		t.Fatalf("the hash %q does not verify: %v", out.String(), err)
	}
	out.Reset()
	errb.Reset()
	if code := hashPassword([]string{"hash-password"}, strings.NewReader("short\n"), &out, &errb); code != 2 || out.Len() != 0 {
		t.Fatalf("a short password: %d %q %q", code, out.String(), errb.String())
	}
}
