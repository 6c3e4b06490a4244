package codeassist

import (
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
)

// Quotas come from retrieveUserQuota (Gemini CLI) or fetchAvailableModels
// (Antigravity), on the account's discovered project.
func TestQuotaFromCodeAssist(t *testing.T) {
	ca := newCodeAssist(t)
	reset := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		antigravity bool
		want        []accounts.Quota
	}{
		{"gemini-cli", false, []accounts.Quota{
			{Name: "gemini-2.5-pro (REQUESTS)", RemainingFraction: 0.612, Remaining: 612, ResetAt: reset},
			{Name: "gemini-2.5-flash (REQUESTS)", RemainingFraction: 0, ResetAt: reset},
		}},
		// A model without remainingFraction is left out, not guessed.
		{"antigravity", true, []accounts.Quota{
			{Name: "gemini-3-pro-high", RemainingFraction: 0.8, ResetAt: time.Date(2026, 12, 5, 19, 0, 0, 0, time.UTC)},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := provider(t, ca.URL)
			p.cfg.Antigravity = tc.antigravity
			acct := p.accts.Lookup("acct:g")
			got, err := p.FetchQuota(acct)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("quotas %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i].Name != tc.want[i].Name || got[i].RemainingFraction != tc.want[i].RemainingFraction ||
					got[i].Remaining != tc.want[i].Remaining || !got[i].ResetAt.Equal(tc.want[i].ResetAt) {
					t.Errorf("quota %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if !got[len(got)-1].Exhausted() && !tc.antigravity {
				t.Error("a bucket at 0 is not exhausted")
			}
		})
	}
}
