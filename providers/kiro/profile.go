package kiro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// profileTarget is the service operation that lists the CodeWhisperer
// profiles an IAM Identity Center sign-in may use (AWS JSON 1.0 protocol).
const profileTarget = "AmazonCodeWhispererService.ListAvailableProfiles"

// profiles remembers each account's profile ARN once found.
type profiles struct {
	mu    sync.Mutex
	byKey map[string]profileEntry
}

type profileEntry struct {
	arn string
	// retry is when a failed or empty discovery may be tried again.
	retry time.Time
}

// profileFor returns the profile ARN to send for an account whose file
// names none: the first profile ListAvailableProfiles gives, found once
// and kept. A social or Builder ID sign-in needs none, so a failed or
// empty discovery sends the request without one (and is retried after a
// while, not on every request).
func (p *Provider) profileFor(key, token string) string {
	now := p.cfg.Now()
	p.profiles.mu.Lock()
	e, ok := p.profiles.byKey[key]
	p.profiles.mu.Unlock()
	if ok && (e.arn != "" || now.Before(e.retry)) {
		return e.arn
	}
	arn, err := p.discoverProfile(token)
	e = profileEntry{arn: arn}
	if err != nil || arn == "" {
		e.retry = now.Add(10 * time.Minute)
	}
	p.profiles.mu.Lock()
	p.profiles.byKey[key] = e
	p.profiles.mu.Unlock()
	return arn
}

func (p *Provider) discoverProfile(token string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, p.cfg.HTTP.BaseURL+p.cfg.ProfilesPath, bytes.NewReader([]byte(`{"maxResults":10}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", profileTarget)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("x-amz-user-agent", p.agent)
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("kiro: listing profiles: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("kiro: listing profiles: HTTP %d %v", res.StatusCode, err)
	}
	var ans struct {
		Profiles []struct {
			Arn string `json:"arn"`
		} `json:"profiles"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return "", fmt.Errorf("kiro: listing profiles: %w", err)
	}
	for _, pr := range ans.Profiles {
		if pr.Arn != "" {
			return pr.Arn, nil
		}
	}
	return "", nil
}
