package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the proxy binary: the load
// tester's embedded mode runs this executable as `serve` in a child
// process, and `go test` never passes a bare "serve" as the first argument.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
