package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/llmproxy/proxy/proxy/config"
)

// checkConfig validates a configuration file as `serve` would load it and
// prints every problem with its key path.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: proxy check-config FILE")
		return 2
	}
	cfg, err := config.Load(config.Source{Path: args[0], Required: true, Environ: os.Environ()})
	var ps config.Problems
	switch {
	case errors.As(err, &ps):
		fmt.Fprintf(stdout, "%s: %d problem(s)\n", args[0], len(ps))
		for _, p := range ps {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		return 1
	case err != nil:
		fmt.Fprintf(stdout, "%s: %v\n", args[0], err)
		return 1
	}
	for _, p := range cfg.Providers {
		if !p.HasKeys() {
			fmt.Fprintf(stdout, "warning: provider %s has no non-empty api_keys and will be skipped\n", p.Name)
		}
	}
	fmt.Fprintf(stdout, "%s: OK (%d providers)\n", args[0], len(cfg.Providers))
	return 0
}
