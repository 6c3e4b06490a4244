package kiro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BuilderIDStartURL is the start URL of AWS Builder ID (personal)
// accounts; an IAM Identity Center organisation has its own.
const BuilderIDStartURL = "https://view.awsapps.com/start"

// loginScopes are the CodeWhisperer scopes a Kiro sign-in asks for.
var loginScopes = []string{"codewhisperer:completions", "codewhisperer:analysis", "codewhisperer:conversations"}

// DeviceLogin signs an account in at AWS SSO OIDC with the device
// authorization grant (RFC 8628): register a public client, start the
// device authorization, show the user the code, and poll CreateToken
// until the user approves it.
type DeviceLogin struct {
	// OIDCTokenURL is the CreateToken URL ("{region}" replaced by Region);
	// the other two operations live beside it.
	OIDCTokenURL string
	Region       string
	StartURL     string
	Client       *http.Client
	Now          func() time.Time
}

// Prompt is what the user must do to approve the sign-in.
type Prompt struct {
	UserCode, VerificationURI, VerificationURIComplete string
	ExpiresIn                                          time.Duration
}

// Run signs in and returns the token file to save, in the Kiro IDE's
// layout with the client registration inside it.
func (l *DeviceLogin) Run(ctx context.Context, show func(Prompt)) ([]byte, error) {
	if l.Region == "" {
		l.Region = DefaultRegion
	}
	if l.StartURL == "" {
		l.StartURL = BuilderIDStartURL
	}
	if l.OIDCTokenURL == "" {
		l.OIDCTokenURL = DefaultOIDCRefreshURL
	}
	if l.Client == nil {
		l.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	tokenURL := strings.ReplaceAll(l.OIDCTokenURL, "{region}", l.Region)
	base := strings.TrimSuffix(tokenURL, "/token")
	var reg struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := l.post(ctx, base+"/client/register", map[string]any{"clientName": "llmproxy", "clientType": "public", "scopes": loginScopes}, &reg); err != nil {
		return nil, fmt.Errorf("registering the client: %w", err)
	}
	var dev struct {
		DeviceCode              string  `json:"deviceCode"`
		UserCode                string  `json:"userCode"`
		VerificationURI         string  `json:"verificationUri"`
		VerificationURIComplete string  `json:"verificationUriComplete"`
		ExpiresIn               float64 `json:"expiresIn"`
		Interval                float64 `json:"interval"`
	}
	if err := l.post(ctx, base+"/device_authorization", map[string]any{"clientId": reg.ClientID, "clientSecret": reg.ClientSecret, "startUrl": l.StartURL}, &dev); err != nil {
		return nil, fmt.Errorf("starting the device authorization: %w", err)
	}
	if dev.DeviceCode == "" {
		return nil, errors.New("starting the device authorization: no deviceCode in the answer")
	}
	show(Prompt{UserCode: dev.UserCode, VerificationURI: dev.VerificationURI, VerificationURIComplete: dev.VerificationURIComplete,
		ExpiresIn: time.Duration(dev.ExpiresIn) * time.Second})
	interval := time.Duration(max(dev.Interval, 1)) * time.Second
	deadline := l.Now().Add(time.Duration(max(dev.ExpiresIn, 60)) * time.Second)
	for {
		var tok struct {
			AccessToken  string  `json:"accessToken"`
			RefreshToken string  `json:"refreshToken"`
			ExpiresIn    float64 `json:"expiresIn"`
		}
		err := l.post(ctx, tokenURL, map[string]any{"clientId": reg.ClientID, "clientSecret": reg.ClientSecret,
			"grantType": "urn:ietf:params:oauth:grant-type:device_code", "deviceCode": dev.DeviceCode}, &tok)
		var oe *oidcError
		switch {
		case err == nil && tok.AccessToken != "":
			method := "IdC"
			if l.StartURL == BuilderIDStartURL {
				method = "builder-id"
			}
			return json.MarshalIndent(map[string]any{
				"accessToken": tok.AccessToken, "refreshToken": tok.RefreshToken,
				"expiresAt":  l.Now().Add(time.Duration(max(tok.ExpiresIn, 60)) * time.Second).UTC().Format(time.RFC3339),
				"authMethod": method, "provider": map[bool]string{true: "BuilderId", false: "Enterprise"}[method == "builder-id"],
				"region": l.Region, "clientId": reg.ClientID, "clientSecret": reg.ClientSecret, "startUrl": l.StartURL,
			}, "", "  ")
		case err == nil:
			return nil, errors.New("signing in: no accessToken in the answer")
		case errors.As(err, &oe) && oe.code == "authorization_pending":
		case errors.As(err, &oe) && oe.code == "slow_down":
			interval += 5 * time.Second
		default:
			return nil, fmt.Errorf("signing in: %w", err)
		}
		if l.Now().Add(interval).After(deadline) {
			return nil, errors.New("signing in: the code expired before it was approved")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// oidcError is an OIDC error answer ({"error": code}).
type oidcError struct {
	status int
	code   string
}

func (e *oidcError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.code) }

func (l *DeviceLogin) post(ctx context.Context, url string, body any, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := l.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(ans, &e)
		if e.Error == "" {
			e.Error = "no error code in the answer"
		}
		return &oidcError{status: res.StatusCode, code: e.Error}
	}
	return json.Unmarshal(ans, out)
}

// SaveAccount writes a signed-in account's token file into folder
// (owner-only, never over another file) and returns its path.
func SaveAccount(folder string, file []byte, now time.Time) (string, error) {
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(folder, "kiro-"+now.UTC().Format("20060102-150405")+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(file); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
