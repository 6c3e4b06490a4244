package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/llmproxy/proxy/providers/kiro"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/signin"
)

// kiroLogin signs a Kiro account in with AWS SSO OIDC's device flow
// (AWS Builder ID, or an IAM Identity Center start URL) and saves its
// token file where the provider reads accounts. Social sign-ins (Google,
// GitHub) are made in the Kiro IDE and imported from its token file.
func kiroLogin(cfgPath, name, dir, startURL, region string, stdout, stderr io.Writer) int {
	p, err := subscriptionProvider(cfgPath, config.TypeKiro, name)
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: %v\n", err)
		return 1
	}
	folder, err := signin.Folder(p, dir)
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: %v; give --credentials DIR (a folder of accounts)\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l := signin.KiroDevice(p, startURL, region)
	file, err := l.Run(ctx, func(pr kiro.Prompt) {
		fmt.Fprintf(stdout, "Open %s and enter the code %s (or open %s); waiting for approval...\n",
			pr.VerificationURI, pr.UserCode, pr.VerificationURIComplete)
	})
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: %v\n", err)
		return 1
	}
	path, _, err := signin.SaveKiro(folder, file, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "proxy login: saving the account: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Signed in; account saved to %s\n", path)
	return 0
}
