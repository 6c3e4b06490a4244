package kiro

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/valyala/fastjson"
)

// DefaultUsagePath is the service's usage-limits method, after the base
// URL, as the IDE calls it (GET with query parameters).
const DefaultUsagePath = "/getUsageLimits"

// maxUsageAnswer bounds the usage answer.
const maxUsageAnswer = 1 << 20

// FetchQuota asks the service's getUsageLimits for the account's monthly
// allowance: {"usageBreakdownList": [{"resourceType", "displayName",
// "currentUsage(WithPrecision)", "usageLimit(WithPrecision)",
// "nextDateReset" (unix s), "freeTrialInfo": {...}}], "nextDateReset"}.
// It runs in the background (accounts.WatchQuota), never on a request's
// path.
func (p *Provider) FetchQuota(a *accounts.Account) ([]accounts.Quota, error) {
	cred, err := a.Credential()
	if err != nil {
		return nil, err
	}
	arn := cred.AccountID
	if arn == "" {
		arn = p.profileFor(p.keyOf(a), cred.AccessToken)
	}
	q := url.Values{"origin": {"AI_EDITOR"}, "resourceType": {"AGENTIC_REQUEST"}}
	if arn != "" {
		q.Set("profileArn", arn)
	}
	req, err := http.NewRequest(http.MethodGet, p.cfg.QuotaURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cred.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-amz-user-agent", p.agent)
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("usage limits: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxUsageAnswer))
	if err != nil {
		return nil, fmt.Errorf("usage limits: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("usage limits answered HTTP %d: %s", res.StatusCode, upstreamMessage(b))
	}
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("usage limits: %w", err)
	}
	return parseUsageLimits(v)
}

// keyOf is the pool key of account a (profiles are remembered by key).
func (p *Provider) keyOf(a *accounts.Account) string {
	for k, acct := range p.cfg.Accounts {
		if acct == a {
			return k
		}
	}
	return "account:" + a.Path
}

// parseUsageLimits turns each breakdown with a limit into a quota, and an
// active free trial into one more ("… (free trial)", resetting when the
// trial ends).
func parseUsageLimits(v *fastjson.Value) ([]accounts.Quota, error) {
	list := v.GetArray("usageBreakdownList")
	if list == nil {
		return nil, errors.New("the answer has no usageBreakdownList")
	}
	monthEnd := unixTime(v.Get("nextDateReset"))
	var out []accounts.Quota
	for _, b := range list {
		name := string(b.GetStringBytes("displayName"))
		if name == "" {
			name = string(b.GetStringBytes("resourceType"))
		}
		reset := unixTime(b.Get("nextDateReset"))
		if reset.IsZero() {
			reset = monthEnd
		}
		if q, ok := limitQuota(name, b, reset); ok {
			out = append(out, q)
		}
		if t := b.Get("freeTrialInfo"); t != nil && t.Type() == fastjson.TypeObject && string(t.GetStringBytes("freeTrialStatus")) == "ACTIVE" {
			if q, ok := limitQuota(name+" (free trial)", t, unixTime(t.Get("freeTrialExpiry"))); ok {
				out = append(out, q)
			}
		}
	}
	return out, nil
}

// limitQuota reads one {currentUsage, usageLimit} pair, preferring the
// fractional figures; a limit of 0 is no allowance and is left out.
func limitQuota(name string, b *fastjson.Value, reset time.Time) (accounts.Quota, bool) {
	limit := number(b, "usageLimitWithPrecision", "usageLimit")
	if limit <= 0 {
		return accounts.Quota{}, false
	}
	used := number(b, "currentUsageWithPrecision", "currentUsage")
	return accounts.Quota{Name: name, Limit: limit, Remaining: math.Max(limit-used, 0),
		RemainingFraction: (limit - used) / limit, ResetAt: reset}, true
}

// number reads the first of keys that is a number.
func number(v *fastjson.Value, keys ...string) float64 {
	for _, k := range keys {
		if n := v.Get(k); n != nil && n.Type() == fastjson.TypeNumber {
			return n.GetFloat64()
		}
	}
	return 0
}

// unixTime reads seconds since the epoch (the service sends them as a
// JSON number, integral or not); zero when absent.
func unixTime(v *fastjson.Value) time.Time {
	if v == nil || v.Type() != fastjson.TypeNumber || v.GetFloat64() <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(v.GetFloat64()), 0).UTC()
}
