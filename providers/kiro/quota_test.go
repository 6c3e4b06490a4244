package kiro

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/valyala/fastjson"
)

func TestParseUsageLimits(t *testing.T) {
	recorded, err := os.ReadFile("testdata/usage_limits.json")
	if err != nil {
		t.Fatal(err)
	}
	monthEnd := time.Unix(1798761600, 0).UTC()
	for _, tc := range []struct {
		name, body string
		want       []accounts.Quota
		err        string
	}{
		{name: "monthly credits and an active trial", body: string(recorded), want: []accounts.Quota{
			{Name: "Credit", Limit: 50, Remaining: 37.25, RemainingFraction: 37.25 / 50, ResetAt: monthEnd},
			{Name: "Credit (free trial)", Limit: 500, Remaining: 359.5, RemainingFraction: 359.5 / 500, ResetAt: time.Unix(1797465600, 0).UTC()},
		}},
		{name: "integral figures only, reset at the top", body: `{"nextDateReset":1798761600,"usageBreakdownList":[{"resourceType":"CREDIT","currentUsage":60,"usageLimit":50}]}`,
			want: []accounts.Quota{{Name: "CREDIT", Limit: 50, Remaining: 0, RemainingFraction: -10.0 / 50, ResetAt: monthEnd}}},
		{name: "no allowance and an expired trial", body: `{"usageBreakdownList":[{"displayName":"Credit","usageLimit":0,"freeTrialInfo":{"freeTrialStatus":"EXPIRED","usageLimit":500}}]}`},
		{name: "not a usage answer", body: `{"message":"hi"}`, err: "no usageBreakdownList"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUsageLimits(fastjson.MustParse(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("quota %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
