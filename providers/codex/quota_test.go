package codex

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// The usage endpoint beside the backend answers the account's windows;
// the quota view shows what is left of each and when it resets.
func TestQuotaFromUsageEndpoint(t *testing.T) {
	usage, err := os.ReadFile("testdata/wham_usage.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/backend-api/wham/usage" || r.Method != http.MethodGet {
			w.WriteHeader(404)
			return
		}
		if r.Header.Get("Authorization") != "Bearer at-live" || r.Header.Get("chatgpt-account-id") != "acct-1" {
			w.WriteHeader(401)
			return
		}
		w.Write(usage)
	}))
	t.Cleanup(srv.Close)
	p, acct := newProvider(t, srv.URL, srv.URL+"/token", "at-live", time.Now().Add(time.Hour))
	before := time.Now()
	q, err := p.FetchQuota(acct)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 {
		t.Fatalf("quotas %+v, want the two windows", q)
	}
	if q[0].Name != "primary window (5h0m0s)" || math.Abs(q[0].RemainingFraction-0.63) > 1e-9 || !q[0].ResetAt.Equal(time.Unix(1796774400, 0)) {
		t.Errorf("primary %+v", q[0])
	}
	if q[1].Name != "secondary window (168h0m0s)" || math.Abs(q[1].RemainingFraction-0.075) > 1e-9 {
		t.Errorf("secondary %+v", q[1])
	}
	if d := q[1].ResetAt.Sub(before); d < 300000*time.Second || d > 300001*time.Second {
		t.Errorf("secondary resets in %v, want reset_after_seconds from now", d)
	}
	// A refused token: an error, no figures.
	p2, acct2 := newProvider(t, srv.URL, srv.URL+"/token", "at-other", time.Now().Add(time.Hour))
	if q, err := p2.FetchQuota(acct2); err == nil || q != nil {
		t.Fatalf("refused: %+v %v", q, err)
	}
}
