package codex

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/upstream"
	"github.com/valyala/fastjson"
)

// usageURL is ChatGPT's usage endpoint beside the Codex backend
// (https://chatgpt.com/backend-api/wham/usage for the default base).
func usageURL(base string) string {
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/codex")
	return base + "/wham/usage"
}

// maxUsageAnswer bounds the usage endpoint's answer.
const maxUsageAnswer = 1 << 20

// FetchQuota asks ChatGPT's usage endpoint for the account's Codex usage
// windows: {"rate_limit": {"primary_window"|"secondary_window":
// {"used_percent", "limit_window_seconds", "reset_at" (unix s),
// "reset_after_seconds"}}}. It runs in the background, never on a
// request's path.
func (p *Provider) FetchQuota(a *accounts.Account) ([]accounts.Quota, error) {
	cred, err := a.Credential()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, p.cfg.QuotaURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cred.AccessToken)
	if cred.AccountID != "" {
		req.Header.Set("chatgpt-account-id", cred.AccountID)
	}
	req.Header.Set("originator", p.cfg.Originator)
	req.Header.Set("User-Agent", upstream.UserAgent)
	req.Header.Set("Accept", "application/json")
	res, err := p.quotaClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("usage endpoint: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxUsageAnswer))
	if err != nil {
		return nil, fmt.Errorf("usage endpoint: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("usage endpoint answered HTTP %d", res.StatusCode)
	}
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("usage endpoint: %w", err)
	}
	return parseUsage(v, time.Now()), nil
}

func parseUsage(v *fastjson.Value, now time.Time) []accounts.Quota {
	var out []accounts.Quota
	for _, w := range []string{"primary_window", "secondary_window"} {
		win := v.Get("rate_limit", w)
		if win == nil || win.Type() != fastjson.TypeObject || win.Get("used_percent") == nil {
			continue
		}
		q := accounts.Quota{Name: strings.TrimSuffix(w, "_window") + " window", RemainingFraction: 1 - win.GetFloat64("used_percent")/100}
		if s := win.GetInt64("limit_window_seconds"); s > 0 {
			q.Name += " (" + (time.Duration(s) * time.Second).String() + ")"
		}
		switch {
		case win.GetInt64("reset_at") > 0:
			q.ResetAt = time.Unix(win.GetInt64("reset_at"), 0)
		case win.GetInt64("reset_after_seconds") > 0:
			q.ResetAt = now.Add(time.Duration(win.GetInt64("reset_after_seconds")) * time.Second)
		}
		out = append(out, q)
	}
	return out
}
