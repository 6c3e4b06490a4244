package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// deviceIssuer is a ChatGPT sign-in issuer's device flow: a one-time code,
// polls answered 403 until the user "enters" it (after pendingPolls), then
// an authorization code bound to a verifier the issuer made, exchanged at
// /oauth/token with the device callback as redirect URI.
func deviceIssuer(t *testing.T, pendingPolls int32, enabled bool) (*httptest.Server, *atomic.Int32) {
	var polls atomic.Int32
	var s *httptest.Server
	s = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if r.URL.Path != "/oauth/token" {
			if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
				http.Error(w, "want JSON", 400)
				return
			}
		}
		switch r.URL.Path {
		case "/api/accounts/deviceauth/usercode":
			if !enabled {
				http.NotFound(w, r)
				return
			}
			if in["client_id"] != "cli" {
				http.Error(w, "unknown client", 400)
				return
			}
			fmt.Fprint(w, `{"device_auth_id":"dev-1","user_code":"ABCD-1234","interval":"0"}`)
		case "/api/accounts/deviceauth/token":
			if in["device_auth_id"] != "dev-1" || in["user_code"] != "ABCD-1234" {
				http.Error(w, "unknown device", 400)
				return
			}
			if polls.Add(1) <= pendingPolls {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"error":"authorization_pending"}`)
				return
			}
			fmt.Fprint(w, `{"authorization_code":"code-dev","code_challenge":"ch","code_verifier":"ver-dev"}`)
		case "/oauth/token":
			_ = r.ParseForm()
			if r.Form.Get("code") != "code-dev" || r.Form.Get("code_verifier") != "ver-dev" ||
				r.Form.Get("redirect_uri") != s.URL+"/deviceauth/callback" || r.Form.Get("client_id") != "cli" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			fmt.Fprint(w, `{"access_token":"at-dev","refresh_token":"rt-dev","expires_in":3600}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s, &polls
}

func TestDeviceSignIn(t *testing.T) {
	iss, polls := deviceIssuer(t, 2, true)
	d := &DeviceLogin{Issuer: iss.URL, ClientID: "cli", TokenURL: iss.URL + "/oauth/token"}
	dc, err := d.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dc.UserCode != "ABCD-1234" || dc.VerificationURL != iss.URL+"/codex/device" {
		t.Fatalf("code %+v", dc)
	}
	tok, err := d.Wait(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-dev" || tok.RefreshToken != "rt-dev" || polls.Load() != 3 {
		t.Fatalf("tokens %+v after %d polls", tok, polls.Load())
	}
}

func TestDeviceSignInRefusals(t *testing.T) {
	t.Run("not enabled for the account", func(t *testing.T) {
		iss, _ := deviceIssuer(t, 0, false)
		d := &DeviceLogin{Issuer: iss.URL, ClientID: "cli", TokenURL: iss.URL + "/oauth/token"}
		if _, err := d.Start(context.Background()); !errors.Is(err, ErrDeviceCodeDisabled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("code never entered", func(t *testing.T) {
		iss, _ := deviceIssuer(t, 1<<30, true)
		d := &DeviceLogin{Issuer: iss.URL, ClientID: "cli", TokenURL: iss.URL + "/oauth/token", MaxWait: 200 * time.Millisecond}
		dc, err := d.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dc.interval = 20 * time.Millisecond
		start := time.Now()
		_, err = d.Wait(context.Background(), dc)
		if err == nil || !strings.Contains(err.Error(), "not entered in time") {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the wait outlived MaxWait: %v", time.Since(start))
		}
	})
	t.Run("exchange refused", func(t *testing.T) {
		iss, _ := deviceIssuer(t, 0, true)
		d := &DeviceLogin{Issuer: iss.URL, ClientID: "cli", TokenURL: iss.URL + "/elsewhere"}
		dc, err := d.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Wait(context.Background(), dc); err == nil || !strings.Contains(err.Error(), "code exchange") {
			t.Fatalf("err = %v", err)
		}
	})
}
