package copilot

import (
	"errors"
	"sort"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/valyala/fastjson"
)

// FetchQuota asks GitHub for the account's Copilot quotas (its user
// endpoint: {"quota_snapshots": {"chat"|"completions"|
// "premium_interactions": {"entitlement", "remaining", "percent_remaining",
// "unlimited"}}, "quota_reset_date_utc" | "quota_reset_date"}). Free plans
// answer in another shape (limited_user_quotas) that we have not verified:
// they show no quota.
func (p *Provider) FetchQuota(a *accounts.Account) ([]accounts.Quota, error) {
	v, _, err := p.getJSON(p.cfg.UserURL, "token "+ghToken(a))
	if err != nil {
		return nil, err
	}
	return parseUserQuota(v)
}

func parseUserQuota(v *fastjson.Value) ([]accounts.Quota, error) {
	snaps := v.GetObject("quota_snapshots")
	if snaps == nil {
		return nil, errors.New("the answer has no quota_snapshots (a free plan's quotas are not read)")
	}
	reset := parseReset(string(v.GetStringBytes("quota_reset_date_utc")))
	if reset.IsZero() {
		reset = parseReset(string(v.GetStringBytes("quota_reset_date")))
	}
	var out []accounts.Quota
	snaps.Visit(func(k []byte, s *fastjson.Value) {
		if s.Type() != fastjson.TypeObject {
			return
		}
		q := accounts.Quota{Name: string(k), Unlimited: s.GetBool("unlimited"),
			Remaining: s.GetFloat64("remaining"), Limit: s.GetFloat64("entitlement"), ResetAt: reset}
		switch {
		case q.Unlimited:
			q.RemainingFraction = 1
		case s.Get("percent_remaining") != nil:
			q.RemainingFraction = s.GetFloat64("percent_remaining") / 100
		case q.Limit > 0:
			q.RemainingFraction = q.Remaining / q.Limit
		}
		out = append(out, q)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// parseReset reads an RFC 3339 time or a date (midnight UTC).
func parseReset(s string) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	return time.Time{}
}
