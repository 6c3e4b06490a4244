package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/signin"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
)

// defaultFolder is where `proxy login TYPE` saves accounts when no
// provider names a credentials folder.
func defaultFolder(typ string) string { return "~/.config/llmproxy/" + typ }

// subscriptionProvider is the configuration of the provider of type typ
// named name (or the first one), with the defaults a file would get.
func subscriptionProvider(path, typ, name string) (config.Provider, error) {
	var cfg *config.Config
	if path != "" {
		c, err := config.Load(config.Source{Path: path, Required: true, Environ: os.Environ()})
		if err != nil {
			return config.Provider{}, err
		}
		cfg = c
	}
	if cfg != nil {
		for _, p := range cfg.Providers {
			if p.Type == typ && (name == "" || p.Name == name) {
				return p, nil
			}
		}
		if name != "" {
			return config.Provider{}, fmt.Errorf("no provider %q of type %s in %s", name, typ, path)
		}
	}
	p := config.Provider{Name: typ, Type: typ, Credentials: defaultFolder(typ), Models: []string{"*"}}
	p.FillDefaults()
	return p, nil
}

// login signs an account in and saves it where the provider reads them.
func login(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("login", pflag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file naming the provider (its credentials folder and oauth settings)")
	name := fs.String("provider", "", "the provider of that type to sign in for (default: the first)")
	dir := fs.String("credentials", "", "folder to save the account in (default: the provider's credentials, else ~/.config/llmproxy/TYPE)")
	noBrowser := fs.Bool("no-browser", false, "print the sign-in URL and read the redirect URL pasted back (for a machine without a browser)")
	device := fs.Bool("device", false, "codex: sign in with a one-time code typed on any device (the account must allow device code authorization in ChatGPT's security settings)")
	startURL := fs.String("start-url", "", "kiro: the IAM Identity Center start URL of an organisation (default: AWS Builder ID)")
	region := fs.String("region", "", "kiro: the region of the sign-in service (default us-east-1)")
	port := fs.Int("port", 0, "loopback port of the sign-in redirect (default: the provider's oauth.redirect_port: 1455 codex, 8085 gemini-cli)")
	if code := parseFlags(fs, args, "proxy login codex|gemini-cli|antigravity|copilot|kiro [--config FILE] [--provider NAME] [--credentials DIR] [--no-browser | --device] [--port N] [--start-url URL] [--region R]", stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() == 1 && fs.Arg(0) == config.TypeKiro {
		return kiroLogin(*cfgPath, *name, *dir, *startURL, *region, stdout, stderr)
	}
	typ := fs.Arg(0)
	if fs.NArg() != 1 || len(signin.Methods(typ)) == 0 {
		fmt.Fprintln(stderr, "proxy login: name the account type to sign in to: codex (ChatGPT sign-in), gemini-cli or antigravity (Google sign-in), copilot (GitHub sign-in), kiro (AWS Builder ID or IAM Identity Center)")
		return 2
	}
	if *device && typ != config.TypeCodex && typ != config.TypeCopilot {
		fmt.Fprintf(stderr, "proxy login: --device is for codex: Google's sign-in for %s has no device-code flow; use --no-browser\n", typ)
		return 2
	}
	p, err := subscriptionProvider(*cfgPath, typ, *name)
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: %v\n", err)
		return 1
	}
	folder, err := signin.Folder(p, *dir)
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: %v; give --credentials DIR (a folder of accounts)\n", err)
		return 2
	}
	var tok accounts.Tokens
	if typ == config.TypeCopilot {
		tok, err = githubSignIn(p, stdout)
	} else if *device {
		tok, err = deviceSignIn(typ, p, stdout)
	} else {
		tok, err = browserSignIn(p, *port, *noBrowser, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: %v\n", err)
		return 1
	}
	path, _, err := signin.Save(typ, folder, tok, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: saving the account: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Signed in; account saved to %s\n", path)
	return 0
}

// browserSignIn runs the authorization-code sign-in with PKCE: through the
// loopback redirect, or with the redirect URL pasted back (noBrowser).
func browserSignIn(p config.Provider, port int, noBrowser bool, stdout io.Writer) (accounts.Tokens, error) {
	l, err := signin.BrowserLogin(p, port)
	if err != nil {
		return accounts.Tokens{}, err
	}
	flow, authURL, err := l.Start()
	if err != nil {
		return accounts.Tokens{}, err
	}
	if noBrowser {
		fmt.Fprintf(stdout, "Open this URL in a browser, sign in, then paste the address the browser ends on (it starts with http://localhost:%d):\n\n%s\n\n> ", l.Port, authURL)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		return flow.Pasted(line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return flow.Listen(ctx, func() {
		fmt.Fprintf(stdout, "Opening the sign-in page; if no browser opens, visit:\n\n%s\n\n", authURL)
		openBrowser(authURL)
	})
}

// deviceSignIn runs ChatGPT's device-code sign-in.
func deviceSignIn(typ string, p config.Provider, stdout io.Writer) (accounts.Tokens, error) {
	d, err := signin.CodexDevice(p)
	if err != nil {
		return accounts.Tokens{}, err
	}
	ctx := context.Background()
	dc, err := d.Start(ctx)
	if err != nil {
		return accounts.Tokens{}, err
	}
	fmt.Fprintf(stdout, "To sign %s in, open %s on any device, sign in, and enter this one-time code (it expires in 15 minutes; never share it):\n\n    %s\n\nWaiting...\n",
		typ, dc.VerificationURL, dc.UserCode)
	return d.Wait(ctx, dc)
}

// githubSignIn runs GitHub's device sign-in (RFC 8628) for the Copilot
// app: the user enters a code at GitHub's verification page while this
// side polls, at GitHub's interval, slower when told.
func githubSignIn(p config.Provider, stdout io.Writer) (accounts.Tokens, error) {
	d := signin.GitHubDevice(p)
	ctx := context.Background()
	g, err := d.Start(ctx)
	if err != nil {
		return accounts.Tokens{}, err
	}
	fmt.Fprintf(stdout, "To sign GitHub Copilot in, open %s on any device, sign in to GitHub, and enter this code (never share it):\n\n    %s\n\nWaiting...\n",
		g.VerificationURI, g.UserCode)
	return d.Poll(ctx, g)
}

func openBrowser(u string) {
	cmd := "xdg-open"
	if runtime.GOOS == "darwin" {
		cmd = "open"
	}
	_ = exec.Command(cmd, u).Start()
}

// listAccounts prints every subscription account of the configuration:
// provider, label, file, expiry and what is wrong with it. It reads the
// files only: nothing is refreshed or sent.
func listAccounts(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("accounts", pflag.ContinueOnError)
	cfgPath := fs.String("config", "config.yaml", "configuration file")
	refresh := fs.Bool("refresh", false, "ask each upstream for the accounts' quotas now (tokens are refreshed as a request would)")
	if code := parseFlags(fs, args, "proxy accounts [--config FILE] [--refresh]", stdout, stderr); code >= 0 {
		return code
	}
	cfg, err := config.Load(config.Source{Path: *cfgPath, Required: true, Environ: os.Environ()})
	if err != nil {
		fmt.Fprintf(stderr, "proxy accounts: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "PROVIDER\tACCOUNT\tFILE\tEXPIRES\tSTATUS")
	if *refresh {
		fmt.Fprint(tw, "\tQUOTA")
	}
	fmt.Fprintln(tw)
	n := 0
	now := time.Now()
	for _, p := range cfg.Providers {
		if !p.IsSubscription() {
			continue
		}
		var sts []accounts.Status
		if *refresh {
			var err error
			if sts, err = proxy.CheckQuotas(p, zap.NewNop()); err != nil {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t%v\t-\n", p.Name, err)
			}
		} else {
			sts = readAccounts(p, tw)
		}
		for _, st := range sts {
			status := "ok"
			switch {
			case st.LastError != "":
				status = st.LastError
			case !st.Expiry.IsZero() && st.Expiry.Before(now):
				status = "token expired (refreshed on the next request)"
			}
			exp := "-"
			if !st.Expiry.IsZero() {
				exp = st.Expiry.Local().Format(time.DateTime)
			}
			file := st.Path
			if file == "" {
				file = "(configured)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", p.Name, st.Label, file, exp, status)
			if *refresh {
				fmt.Fprintf(tw, "\t%s", quotaText(st))
			}
			fmt.Fprintln(tw)
			n++
		}
		if w := accounts.PermissionWarning(p.Credentials); w != "" {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(stderr, "no subscription account: add a provider of type codex, gemini-cli, antigravity, copilot or kiro, or run proxy login codex|gemini-cli|antigravity|copilot|kiro")
		return 1
	}
	return 0
}

// readAccounts reads a provider's account files (nothing is refreshed or
// sent); a file that cannot be read gets a row of its own.
func readAccounts(p config.Provider, tw io.Writer) []accounts.Status {
	var sts []accounts.Status
	accts, errs := proxy.LoadAccounts(&p)
	for _, err := range errs {
		fmt.Fprintf(tw, "%s\t-\t-\t-\t%v\n", p.Name, err)
	}
	for _, a := range accts {
		sts = append(sts, a.Status())
	}
	if p.Type == config.TypeCopilot {
		for i, k := range p.APIKeys {
			if k != "" {
				sts = append(sts, accounts.Status{Label: fmt.Sprintf("api_keys[%d]", i)})
			}
		}
	}
	return sts
}

// quotaText renders an account's quotas: what is left of each limit and
// when it resets.
func quotaText(st accounts.Status) string {
	if len(st.Quota) == 0 {
		if st.QuotaError != "" {
			return "? (" + st.QuotaError + ")"
		}
		return "-"
	}
	parts := make([]string, 0, len(st.Quota))
	for _, q := range st.Quota {
		s := q.Name + " "
		switch {
		case q.Unlimited:
			s += "unlimited"
		case q.Limit > 0:
			s += fmt.Sprintf("%.0f/%.0f left", q.Remaining, q.Limit)
		default:
			s += fmt.Sprintf("%.0f%% left", q.RemainingFraction*100)
		}
		if !q.ResetAt.IsZero() && !q.Unlimited {
			s += ", resets " + q.ResetAt.Local().Format(time.DateTime)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
