package main

import (
	"errors"
	"fmt"
	"github.com/llmproxy/proxy/providers/accounts"
	"io"
	"os"

	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/config"
)

// checkConfig validates a configuration file as `serve` would load it and
// prints every problem with its key path.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: proxy check-config FILE\n\nValidates FILE (with the PROXY_* environment) as serve would load it and\nprints every problem with its key path. Exit status 0: valid, 1: problems, 2: usage.\n"
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "proxy check-config: want exactly one FILE, got %d arguments\n\n%s", len(args), usage)
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
		if why := proxy.SkipReason(&p); why != "" {
			fmt.Fprintf(stdout, "warning: provider %s will be skipped: %s\n", p.Name, why)
			continue
		}
		if p.IsSubscription() {
			checkCredentials(p, stdout)
		}
	}
	fmt.Fprintf(stdout, "%s: OK (%d providers)\n", args[0], len(cfg.Providers))
	return 0
}

// checkCredentials reads a subscription provider's account files (without
// refreshing anything) and warns about those that cannot be used and
// about permissions that let other users read them.
func checkCredentials(p config.Provider, stdout io.Writer) {
	if p.Credentials == "" {
		return // copilot with GitHub tokens in api_keys only
	}
	accts, errs := proxy.LoadAccounts(&p)
	for _, err := range errs {
		fmt.Fprintf(stdout, "warning: provider %s: %v\n", p.Name, err)
	}
	if w := accounts.PermissionWarning(p.Credentials); w != "" {
		fmt.Fprintf(stdout, "warning: provider %s: %s\n", p.Name, w)
	}
	for _, a := range accts {
		if w := accounts.PermissionWarning(a.Path); w != "" {
			fmt.Fprintf(stdout, "warning: provider %s: %s\n", p.Name, w)
		}
	}
}
