package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInstallStaging runs install.sh in DESTDIR mode (no root, no
// systemctl) and checks what it lays down.
func TestInstallStaging(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to install as the binary")
	}
	dest := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "install.sh", bin)
	cmd.Env = append(os.Environ(), "DESTDIR="+dest, "PREFIX=/opt/llmproxy", "UNITDIR=/lib/systemd/system")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	tests := []struct {
		path     string
		mode     os.FileMode
		contains string
	}{
		{"opt/llmproxy/bin/proxy", 0o755, ""},
		{"lib/systemd/system/proxy.service", 0o644, "ExecStart=/opt/llmproxy/bin/proxy serve --config /etc/proxy/config.yaml\n"},
		{"lib/systemd/system/proxy@.service", 0o644, "ExecStart=/opt/llmproxy/bin/proxy serve "},
		{"opt/llmproxy/share/proxy/nginx-lb.conf", 0o644, "upstream llm_proxy"},
		{"etc/proxy", 0o750 | os.ModeDir, ""},
	}
	for _, tc := range tests {
		p := filepath.Join(dest, tc.path)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if st.Mode()&(os.ModeDir|os.ModePerm) != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, st.Mode(), tc.mode)
		}
		if tc.contains != "" {
			b, _ := os.ReadFile(p)
			if !strings.Contains(string(b), tc.contains) {
				t.Errorf("%s lacks %q", tc.path, tc.contains)
			}
			if strings.Contains(string(b), "/usr/local/bin/proxy") {
				t.Errorf("%s still names /usr/local/bin/proxy", tc.path)
			}
		}
	}
}
