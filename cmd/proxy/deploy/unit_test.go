package deploy

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const shippedBinary = "/usr/local/bin/proxy"

// unitCopy writes unit (from this directory) into a temp dir as name, with
// ExecStart pointing at an executable that exists here: verify checks that
// the binary is executable, which is a property of the host, not the unit.
func unitCopy(t *testing.T, unit, name, extra string) string {
	t.Helper()
	src, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "ExecStart="+shippedBinary+" ") {
		t.Fatalf("%s: ExecStart does not run %s", unit, shippedBinary)
	}
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to stand in for the binary")
	}
	text := strings.ReplaceAll(string(src), shippedBinary, bin) + extra
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// verify runs systemd-analyze verify and returns its output lines about
// this unit file (it may also print notes about unrelated host units).
func verify(t *testing.T, path string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", path).CombinedOutput()
	var lines []string
	base := filepath.Base(path)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, base) || strings.Contains(l, path) {
			lines = append(lines, l)
		}
	}
	return lines, err
}

func needSystemdAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
}

func TestUnitsVerify(t *testing.T) {
	needSystemdAnalyze(t)
	tests := []struct {
		unit, name string
		extra      string
		wantClean  bool
	}{
		{"proxy.service", "proxy.service", "", true},
		{"proxy@.service", "proxy@3001.service", "", true},
		// Controls: the check must notice a bad directive in our unit.
		{"proxy.service", "proxy.service", "ProtectEverything=yes\n", false},
		{"proxy.service", "proxy.service", "[Service]\nRestart=sometimes\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name+"+"+strings.TrimSpace(tc.extra), func(t *testing.T) {
			lines, err := verify(t, unitCopy(t, tc.unit, tc.name, tc.extra))
			clean := err == nil && len(lines) == 0
			if clean != tc.wantClean {
				t.Fatalf("clean=%v want %v; err=%v\n%s", clean, tc.wantClean, err, strings.Join(lines, "\n"))
			}
		})
	}
}

func TestUnitSecurityExposure(t *testing.T) {
	needSystemdAnalyze(t)
	path := unitCopy(t, "proxy.service", "proxy.service", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// --threshold makes the command fail above the given exposure, in
	// tenths of the printed 0 (locked down) .. 10 (unprotected) score. The
	// shipped unit prints 1.6.
	out, err := exec.CommandContext(ctx, "systemd-analyze", "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Fatalf("exposure above 2 or analysis failed: %v\n%s", err, out)
	}
}

// directives parses a unit into section -> key -> values (keys may repeat).
func directives(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = strings.Trim(l, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s: bad line %q", path, l)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

// TestUnitHardeningDirectives pins the settings the proxy relies on, so a
// later edit cannot silently drop one (verify alone accepts their absence).
func TestUnitHardeningDirectives(t *testing.T) {
	want := []struct{ section, key, value string }{
		{"Unit", "StartLimitBurst", "5"},
		{"Service", "Type", "notify"},
		{"Service", "NotifyAccess", "main"},
		{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service", "Restart", "on-failure"},
		{"Service", "DynamicUser", "yes"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, unit := range []string{"proxy.service", "proxy@.service"} {
		d := directives(t, unit)
		for _, w := range want {
			vals := d[w.section][w.key]
			found := false
			for _, v := range vals {
				found = found || v == w.value
			}
			if !found {
				t.Errorf("%s: [%s] %s=%q missing (have %q)", unit, w.section, w.key, w.value, vals)
			}
		}
	}
}
