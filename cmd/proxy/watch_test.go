package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchFile: a change of the file's content is reported; an unchanged
// file is not.
func TestWatchFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	changed := watchFile(p, 10*time.Millisecond, stop)
	select {
	case <-changed:
		t.Fatal("change reported for an untouched file")
	case <-time.After(50 * time.Millisecond):
	}
	if err := os.WriteFile(p, []byte("a: 22\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("change not reported")
	}
}
