package accounts

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// OAuth refreshes tokens at an OAuth 2.0 token endpoint (RFC 6749 section
// 6): a form POST of grant_type=refresh_token with the client id (and the
// client secret Google's installed-app clients publish).
type OAuth struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Client is the HTTP client (default: 30 s timeout).
	Client *http.Client
}

// maxTokenAnswer bounds a token endpoint's answer.
const maxTokenAnswer = 1 << 20

// Refresh implements Refresher.
func (o *OAuth) Refresh(refreshToken string) (Tokens, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {o.ClientID}}
	if o.ClientSecret != "" {
		form.Set("client_secret", o.ClientSecret)
	}
	return postToken(o.Client, o.TokenURL, form)
}

// postToken posts a form to an OAuth token endpoint and reads its answer
// (the refresh and the sign-in's code exchange alike).
func postToken(hc *http.Client, tokenURL string, form url.Values) (Tokens, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return Tokens{}, fmt.Errorf("token endpoint: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer))
	if err != nil {
		return Tokens{}, fmt.Errorf("token endpoint: %w", err)
	}
	var ans struct {
		AccessToken  string  `json:"access_token"`
		RefreshToken string  `json:"refresh_token"`
		IDToken      string  `json:"id_token"`
		ExpiresIn    float64 `json:"expires_in"`
		Error        string  `json:"error"`
		Description  string  `json:"error_description"`
	}
	_ = json.Unmarshal(b, &ans)
	if res.StatusCode != http.StatusOK || ans.AccessToken == "" {
		why := ans.Error
		if ans.Description != "" {
			why += ": " + ans.Description
		}
		if why == "" {
			why = "no access_token in the answer"
		}
		// Never the body itself: it may echo the refresh token.
		return Tokens{}, fmt.Errorf("token endpoint answered HTTP %d: %s", res.StatusCode, why)
	}
	return Tokens{AccessToken: ans.AccessToken, RefreshToken: ans.RefreshToken, IDToken: ans.IDToken,
		ExpiresIn: time.Duration(ans.ExpiresIn * float64(time.Second))}, nil
}
