package codeassist

import (
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/valyala/fastjson"
)

// FetchQuota asks Code Assist for the account's quota, in the background:
// Gemini CLI's retrieveUserQuota ({"project"} → {"buckets": [{"modelId",
// "tokenType", "remainingFraction", "remainingAmount", "resetTime"}]}) or
// Antigravity's fetchAvailableModels ({"project"} → {"models": {id:
// {"quotaInfo": {"remainingFraction", "resetTime"}}}}).
func (p *Provider) FetchQuota(a *accounts.Account) ([]accounts.Quota, error) {
	key := ""
	for k, acct := range p.cfg.Accounts {
		if acct == a {
			key = k
		}
	}
	cred, err := a.Credential()
	if err != nil {
		return nil, err
	}
	project, res := p.project(key, cred)
	if res != nil {
		res.Release()
		return nil, errors.New("no Code Assist project for the account (see its status)")
	}
	body := `{"project":` + strconv.Quote(project) + `}`
	if p.cfg.Antigravity {
		v, _, err := p.post(cred.AccessToken, "fetchAvailableModels", body)
		if err != nil {
			return nil, err
		}
		return modelQuotas(v), nil
	}
	v, _, err := p.post(cred.AccessToken, "retrieveUserQuota", body)
	if err != nil {
		return nil, err
	}
	return bucketQuotas(v), nil
}

func bucketQuotas(v *fastjson.Value) []accounts.Quota {
	var out []accounts.Quota
	for _, b := range v.GetArray("buckets") {
		name := string(b.GetStringBytes("modelId"))
		if t := b.GetStringBytes("tokenType"); len(t) > 0 {
			name += " (" + string(t) + ")"
		}
		if name == "" || b.Get("remainingFraction") == nil {
			continue
		}
		q := accounts.Quota{Name: name, RemainingFraction: b.GetFloat64("remainingFraction"), ResetAt: rfc3339(b.GetStringBytes("resetTime"))}
		// remainingAmount is an int64 in the API, sent as a JSON string.
		if ra := b.Get("remainingAmount"); ra != nil {
			if n, err := strconv.ParseFloat(string(ra.GetStringBytes()), 64); err == nil {
				q.Remaining = n
			} else if ra.Type() == fastjson.TypeNumber {
				q.Remaining = ra.GetFloat64()
			}
		}
		out = append(out, q)
	}
	return out
}

// modelQuotas reads Antigravity's model list; a model whose quotaInfo has
// no remainingFraction is left out rather than guessed.
func modelQuotas(v *fastjson.Value) []accounts.Quota {
	var out []accounts.Quota
	if m := v.GetObject("models"); m != nil {
		m.Visit(func(k []byte, mv *fastjson.Value) {
			qi := mv.Get("quotaInfo")
			if qi == nil || qi.Get("remainingFraction") == nil {
				return
			}
			out = append(out, accounts.Quota{Name: string(k), RemainingFraction: qi.GetFloat64("remainingFraction"),
				ResetAt: rfc3339(qi.GetStringBytes("resetTime"))})
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func rfc3339(b []byte) time.Time {
	t, _ := time.Parse(time.RFC3339, string(b))
	return t
}
