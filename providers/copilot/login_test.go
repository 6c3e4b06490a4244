package copilot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
)

// GitHub's device sign-in: the code, then polls at GitHub's interval while
// it answers authorization_pending, five seconds slower (or GitHub's new
// interval) after slow_down, until the token.
func TestCopilotDeviceSignIn(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{Pending: 2, SlowDown: true, DeviceToken: "gho_new"})
	var waits []time.Duration
	d := &accounts.DeviceFlow{CodeURL: m.URL + "/login/device/code", TokenURL: m.URL + "/login/oauth/access_token", ClientID: "Iv1.test", Scope: "read:user",
		Sleep: func(ctx context.Context, w time.Duration) error { waits = append(waits, w); return ctx.Err() }}
	g, err := d.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if g.UserCode != "WDJB-MJHT" || !strings.HasSuffix(g.VerificationURI, "/login/device") || g.Interval != time.Second {
		t.Fatalf("grant %+v", g)
	}
	tok, err := d.Poll(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "gho_new" {
		t.Fatalf("token %q", tok.AccessToken)
	}
	want := []time.Duration{time.Second, time.Second, time.Second, 6 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v (slow_down adds 5 s)", waits, want)
		}
	}
	// The new token trades for a Copilot token.
	p := build(t, m, []string{tok.AccessToken}, nil)
	if st, body := do(t, p, chatCall("k0", false)); st != 200 {
		t.Fatalf("with the signed-in token: %d %s", st, body)
	}
}

func TestCopilotDeviceSignInEndsClearly(t *testing.T) {
	m := copilotmock.Start(t, copilotmock.Options{Pending: 1000})
	d := &accounts.DeviceFlow{CodeURL: m.URL + "/login/device/code", TokenURL: m.URL + "/login/oauth/access_token", ClientID: "Iv1.test",
		MaxWait: 300 * time.Millisecond}
	g, err := d.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g.Interval = 20 * time.Millisecond
	_, err = d.Poll(context.Background(), g)
	if err == nil || !strings.Contains(err.Error(), "not entered in time") {
		t.Fatalf("err %v, want the code not entered in time", err)
	}
	for code, want := range map[string]string{"expired_token": "the code expired", "access_denied": "cancelled", "unsupported_grant_type": "unsupported_grant_type"} {
		m := copilotmock.Start(t, copilotmock.Options{DeviceError: code})
		d := &accounts.DeviceFlow{CodeURL: m.URL + "/login/device/code", TokenURL: m.URL + "/login/oauth/access_token", ClientID: "Iv1.test",
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
		g, err := d.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Poll(context.Background(), g); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", code, err, want)
		}
	}
	bad := &accounts.DeviceFlow{CodeURL: m.URL + "/login/device/code", TokenURL: m.URL + "/login/oauth/access_token"}
	if _, err := bad.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("without a client id: %v", err)
	}
}
