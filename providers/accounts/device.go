package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DeviceLogin is the ChatGPT sign-in's device-code flow, as Codex CLI runs
// it (`codex login --device-auth`): the user opens a verification page on
// any machine and types a one-time code while this side polls. It suits a
// server without a browser better than pasting a redirect URL. The account
// owner must have turned device code authorization on in ChatGPT's security
// settings; until then the issuer answers 404.
type DeviceLogin struct {
	// Issuer is the sign-in origin (https://auth.openai.com); the flow's
	// endpoints hang under it.
	Issuer   string
	ClientID string
	// TokenURL is the OAuth token endpoint the code is exchanged at.
	TokenURL string
	Client   *http.Client
	// MaxWait bounds the wait for the user (default 15 min, the code's life).
	MaxWait time.Duration
}

// DeviceCode is a device sign-in in progress: show VerificationURL and
// UserCode to the user, then Wait.
type DeviceCode struct {
	VerificationURL, UserCode string
	id                        string
	interval                  time.Duration
}

// ErrDeviceCodeDisabled is the issuer's refusal to start a device sign-in.
var ErrDeviceCodeDisabled = errors.New("device code sign-in is not enabled for this account: turn on device code authorization for Codex in ChatGPT's security settings, or sign in with the browser (--no-browser pastes the redirect)")

// Start asks the issuer for a one-time code.
func (d *DeviceLogin) Start(ctx context.Context) (*DeviceCode, error) {
	var ans struct {
		ID       string          `json:"device_auth_id"`
		UserCode string          `json:"user_code"`
		Alt      string          `json:"usercode"`
		Interval json.RawMessage `json:"interval"`
	}
	status, err := d.post(ctx, "/api/accounts/deviceauth/usercode", map[string]string{"client_id": d.ClientID}, &ans)
	switch {
	case err != nil:
		return nil, fmt.Errorf("device code: %w", err)
	case status == http.StatusNotFound:
		return nil, ErrDeviceCodeDisabled
	case status != http.StatusOK:
		return nil, fmt.Errorf("device code: the issuer answered HTTP %d", status)
	}
	if ans.UserCode == "" {
		ans.UserCode = ans.Alt
	}
	if ans.ID == "" || ans.UserCode == "" {
		return nil, errors.New("device code: the issuer's answer has no device_auth_id or user_code")
	}
	return &DeviceCode{VerificationURL: d.issuer() + "/codex/device", UserCode: ans.UserCode, id: ans.ID,
		interval: pollInterval(ans.Interval)}, nil
}

// pollInterval reads the issuer's polling interval, which it sends as a
// string of seconds; 5 s when absent or unreadable.
func pollInterval(raw json.RawMessage) time.Duration {
	s := strings.Trim(string(raw), `" `)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return 5 * time.Second
}

// Wait polls until the user has entered the code, then exchanges the
// authorization code the issuer hands back (with the PKCE verifier it made
// on this sign-in's behalf) for tokens.
func (d *DeviceLogin) Wait(ctx context.Context, dc *DeviceCode) (Tokens, error) {
	maxWait := d.MaxWait
	if maxWait <= 0 {
		maxWait = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	var ans struct {
		Code     string `json:"authorization_code"`
		Verifier string `json:"code_verifier"`
	}
	for {
		status, err := d.post(ctx, "/api/accounts/deviceauth/token", map[string]string{"device_auth_id": dc.id, "user_code": dc.UserCode}, &ans)
		if err != nil {
			if ctx.Err() != nil {
				return Tokens{}, fmt.Errorf("device sign-in: the code was not entered in time: %w", ctx.Err())
			}
			return Tokens{}, fmt.Errorf("device sign-in: %w", err)
		}
		if status == http.StatusOK {
			break
		}
		// 403 and 404 mean the code was not entered yet.
		if status != http.StatusForbidden && status != http.StatusNotFound {
			return Tokens{}, fmt.Errorf("device sign-in: the issuer answered HTTP %d", status)
		}
		if err := sleepCtx(ctx, dc.interval); err != nil {
			return Tokens{}, fmt.Errorf("device sign-in: the code was not entered in time: %w", err)
		}
	}
	if ans.Code == "" || ans.Verifier == "" {
		return Tokens{}, errors.New("device sign-in: the issuer's answer has no authorization_code or code_verifier")
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {ans.Code}, "redirect_uri": {d.issuer() + "/deviceauth/callback"},
		"client_id": {d.ClientID}, "code_verifier": {ans.Verifier}}
	t, err := postToken(d.Client, d.TokenURL, form)
	if err != nil {
		return Tokens{}, fmt.Errorf("device sign-in: code exchange: %w", err)
	}
	return t, nil
}

func (d *DeviceLogin) issuer() string { return strings.TrimRight(d.Issuer, "/") }

// post sends a JSON body to one of the issuer's device endpoints and reads
// a successful answer into out; the status is returned for the caller to
// judge.
func (d *DeviceLogin) post(ctx context.Context, path string, body any, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	status, ab, err := postAnswer(ctx, d.Client, d.issuer()+path, "application/json", b)
	if err != nil {
		return 0, err
	}
	if status == http.StatusOK {
		if err := json.Unmarshal(ab, out); err != nil {
			return 0, fmt.Errorf("reading the issuer's answer: %w", err)
		}
	}
	return status, nil
}
