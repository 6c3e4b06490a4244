package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"encoding/json"
)

// DeviceFlow is the OAuth 2.0 device authorization grant (RFC 8628) as
// GitHub runs it for its apps (the Copilot sign-in): a code is asked for,
// the user types it at the verification page on any device, and this side
// polls the token endpoint at the interval the server sets, slowing down
// when told to.
type DeviceFlow struct {
	// CodeURL is the device authorization endpoint
	// (https://github.com/login/device/code); TokenURL the token endpoint
	// (https://github.com/login/oauth/access_token).
	CodeURL, TokenURL string
	ClientID          string
	Scope             string
	Client            *http.Client
	// MaxWait bounds the wait for the user (default: the code's own
	// expires_in, else 15 min).
	MaxWait time.Duration
	// Sleep waits d between polls (default: a timer; tests record the
	// intervals instead of waiting them).
	Sleep func(ctx context.Context, d time.Duration) error
}

// DeviceGrant is a device sign-in in progress: show VerificationURI and
// UserCode to the user, then Poll.
type DeviceGrant struct {
	VerificationURI, UserCode string
	ExpiresIn, Interval       time.Duration
	deviceCode                string
}

// Start asks for a device code.
func (d *DeviceFlow) Start(ctx context.Context) (*DeviceGrant, error) {
	form := url.Values{"client_id": {d.ClientID}}
	if d.Scope != "" {
		form.Set("scope", d.Scope)
	}
	var ans struct {
		DeviceCode      string  `json:"device_code"`
		UserCode        string  `json:"user_code"`
		VerificationURI string  `json:"verification_uri"`
		ExpiresIn       float64 `json:"expires_in"`
		Interval        float64 `json:"interval"`
		Error           string  `json:"error"`
		Description     string  `json:"error_description"`
	}
	status, err := d.post(ctx, d.CodeURL, form, &ans)
	if err != nil {
		return nil, fmt.Errorf("device code: %w", err)
	}
	if status != http.StatusOK || ans.DeviceCode == "" || ans.UserCode == "" || ans.VerificationURI == "" {
		return nil, fmt.Errorf("device code: the server answered HTTP %d %s", status, oauthWhy(ans.Error, ans.Description, "without device_code, user_code or verification_uri"))
	}
	g := &DeviceGrant{VerificationURI: ans.VerificationURI, UserCode: ans.UserCode, deviceCode: ans.DeviceCode,
		ExpiresIn: time.Duration(ans.ExpiresIn) * time.Second, Interval: time.Duration(ans.Interval) * time.Second}
	if g.Interval <= 0 {
		g.Interval = 5 * time.Second // RFC 8628 section 3.2's default
	}
	return g, nil
}

// slowDownStep is what RFC 8628 section 3.5 adds to the interval on each
// slow_down.
const slowDownStep = 5 * time.Second

// Poll waits for the user to enter the code and returns the token.
func (d *DeviceFlow) Poll(ctx context.Context, g *DeviceGrant) (Tokens, error) {
	wait := d.MaxWait
	if wait <= 0 {
		wait = g.ExpiresIn
	}
	if wait <= 0 {
		wait = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	sleep := d.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	interval := g.Interval
	form := url.Values{"client_id": {d.ClientID}, "device_code": {g.deviceCode}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}
	for {
		if err := sleep(ctx, interval); err != nil {
			return Tokens{}, fmt.Errorf("device sign-in: the code was not entered in time: %w", err)
		}
		var ans struct {
			AccessToken  string  `json:"access_token"`
			RefreshToken string  `json:"refresh_token"`
			ExpiresIn    float64 `json:"expires_in"`
			Interval     float64 `json:"interval"`
			Error        string  `json:"error"`
			Description  string  `json:"error_description"`
		}
		status, err := d.post(ctx, d.TokenURL, form, &ans)
		if err != nil {
			if ctx.Err() != nil {
				return Tokens{}, fmt.Errorf("device sign-in: the code was not entered in time: %w", ctx.Err())
			}
			return Tokens{}, fmt.Errorf("device sign-in: %w", err)
		}
		switch {
		case ans.AccessToken != "":
			return Tokens{AccessToken: ans.AccessToken, RefreshToken: ans.RefreshToken,
				ExpiresIn: time.Duration(ans.ExpiresIn * float64(time.Second))}, nil
		case ans.Error == "authorization_pending":
		case ans.Error == "slow_down":
			interval += slowDownStep
			if n := time.Duration(ans.Interval) * time.Second; n > interval {
				interval = n
			}
		case ans.Error == "expired_token":
			return Tokens{}, errors.New("device sign-in: the code expired before it was entered: run the sign-in again")
		case ans.Error == "access_denied":
			return Tokens{}, errors.New("device sign-in: the sign-in was cancelled at the verification page")
		default:
			return Tokens{}, fmt.Errorf("device sign-in: the token endpoint answered HTTP %d %s", status, oauthWhy(ans.Error, ans.Description, "without a token"))
		}
	}
}

func oauthWhy(code, desc, otherwise string) string {
	switch {
	case code != "" && desc != "":
		return code + ": " + desc
	case code != "":
		return code
	}
	return otherwise
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// post sends a form and reads the JSON answer, whatever its status (the
// device flow's errors come as JSON bodies, with 200 at GitHub).
func (d *DeviceFlow) post(ctx context.Context, u string, form url.Values, out any) (int, error) {
	status, b, err := postAnswer(ctx, d.Client, u, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return 0, err
	}
	// An answer that is not JSON leaves out empty: the caller reports the status.
	_ = json.Unmarshal(b, out)
	return status, nil
}

// maxDeviceAnswer bounds an answer of the sign-in endpoints.
const maxDeviceAnswer = 64 << 10

// postAnswer posts body to u and returns the status and the answer (at
// most maxDeviceAnswer bytes), for the sign-in endpoints' small JSON
// answers. A nil client gets a 30 s timeout.
func postAnswer(ctx context.Context, hc *http.Client, u, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxDeviceAnswer))
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}
