// Command proxy is a high-throughput LLM API proxy: it speaks the OpenAI,
// Anthropic and Gemini wire protocols to clients and forwards to the
// configured upstream providers.
//
//	proxy [serve] [--config FILE] [flags]   run the proxy (the default)
//	proxy check-config FILE                 validate a configuration file
//	proxy mock-upstream --addr HOST:PORT    run the standalone mock upstream
//	proxy loadtest --tier light|moderate|heavy|stress   load-test the proxy
//	proxy login codex [--no-browser]        sign a ChatGPT account in
//	proxy accounts [--config FILE]          list subscription accounts
//	proxy keys create|list|rotate|revoke    manage virtual keys (admin API)
//	proxy admin hash-password               hash the console password
//	proxy version                           print the version
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-version":
			args[0] = "version"
		case "--help", "-h", "-help":
			args[0] = "help"
		}
	}
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "mock-upstream":
		return mockUpstream(args, stdout, stderr)
	case "loadtest":
		return loadTest(args, stdout, stderr)
	case "login":
		return login(args, stdout, stderr)
	case "accounts":
		return listAccounts(args, stdout, stderr)
	case "keys":
		return keysCommand(args, stdout, stderr)
	case "admin":
		return hashPassword(args, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "proxy", version())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "proxy: unknown command %q\n\n%s", cmd, usage)
	return 2
}

const usage = `usage: proxy <command> [flags]

commands:
  serve           run the proxy (default when no command is given)
  check-config    validate a configuration file and list every problem
  mock-upstream   run the standalone mock upstream (OpenAI, Anthropic and Gemini APIs)
  loadtest        load-test the proxy (embedded) or any endpoint (--target URL)
  login           sign a subscription account in (proxy login codex|gemini-cli)
  accounts        list the subscription accounts and their state
  keys            manage a running proxy's virtual keys (create, list, rotate, revoke, reset)
  admin           hash-password: the bcrypt hash for admin.password_hash (password on stdin)
  version         print the version (also --version)
Run 'proxy <command> --help' for a command's flags.
`

// parseFlags parses a command's flags. On --help it prints the usage to
// stdout and returns 0; on a mistake it says what was wrong, then the
// usage, on stderr and returns 2; otherwise it returns -1 (go on).
func parseFlags(fs *pflag.FlagSet, args []string, usageLine string, stdout, stderr io.Writer) int {
	fs.SetOutput(io.Discard) // pflag would print half of it, to one stream
	err := fs.Parse(args)
	printUsage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s\n\nflags:\n", usageLine)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	switch {
	case errors.Is(err, pflag.ErrHelp):
		printUsage(stdout)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "proxy %s: %v\n\n", fs.Name(), err)
		printUsage(stderr)
		return 2
	}
	return -1
}
