package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUsageMistakes: every command says what was wrong and how to call it,
// on stderr with exit status 2; help goes to stdout with status 0.
func TestUsageMistakes(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderr     string
		emptyOther bool
	}{
		{args: []string{"serve", "--bogus"}, code: 2, stderr: "unknown flag: --bogus"},
		{args: []string{"serve", "--port", "abc"}, code: 2, stderr: `invalid argument "abc" for "--port"`},
		{args: []string{"--bogus"}, code: 2, stderr: "usage: proxy [serve]"},
		{args: []string{"mock-upstream", "--bogus"}, code: 2, stderr: "usage: proxy mock-upstream"},
		{args: []string{"loadtest", "--bogus"}, code: 2, stderr: "usage: proxy loadtest"},
		{args: []string{"check-config"}, code: 2, stderr: "usage: proxy check-config FILE"},
		{args: []string{"nonsense"}, code: 2, stderr: "unknown command"},
		{args: []string{"--version"}, code: 0, stdout: "proxy "},
		{args: []string{"serve", "--version"}, code: 0, stdout: "proxy "},
		{args: []string{"--help"}, code: 0, stdout: "check-config"},
		{args: []string{"serve", "--help"}, code: 0, stdout: "--api-keys"},
		{args: []string{"check-config", "--help"}, code: 0, stdout: "usage: proxy check-config FILE"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("stdout %q\nstderr %q\nwant %q / %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
			if tc.code == 2 && !strings.Contains(stderr.String(), "usage") {
				t.Fatalf("a mistake without the usage: %q", stderr.String())
			}
		})
	}
}
