package accounts

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource answers a fixed quota, failing for one account, and
// counts calls and the most it saw at once.
type countingSource struct {
	calls, inFlight, most atomic.Int64
	fail                  *Account
	mu                    sync.Mutex
}

func (s *countingSource) FetchQuota(a *Account) ([]Quota, error) {
	s.calls.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.mu.Lock()
	if n > s.most.Load() {
		s.most.Store(n)
	}
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	if a == s.fail {
		return nil, errors.New("upstream said no")
	}
	return []Quota{{Name: "requests", RemainingFraction: 0.5, Remaining: 5, Limit: 10}}, nil
}

func TestWatchQuota(t *testing.T) {
	byKey := map[string]*Account{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		byKey[k] = Static(k, "tok-"+k)
	}
	src := &countingSource{fail: byKey["c"]}
	s := NewSet(byKey)
	s.WatchQuota(src, time.Hour) // the first round at once
	deadline := time.Now().Add(5 * time.Second)
	for src.calls.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close() // waits for the round
	if got := src.calls.Load(); got != 10 {
		t.Fatalf("%d calls, want one per account", got)
	}
	if m := src.most.Load(); m > quotaParallel {
		t.Fatalf("%d accounts asked at once, want at most %d", m, quotaParallel)
	}
	for _, st := range s.Statuses() {
		switch {
		case st.Label == "c" && (st.QuotaError != "upstream said no" || st.Quota != nil):
			t.Errorf("failing account: %+v", st)
		case st.Label != "c" && (len(st.Quota) != 1 || st.Quota[0].Remaining != 5 || st.QuotaCheckedAt.IsZero()):
			t.Errorf("account %s: %+v", st.Label, st)
		}
	}
	// A failed check keeps the last figures, marked by the error.
	a := byKey["a"]
	a.SetQuota(nil, errors.New("timeout"), time.Now())
	if st := a.Status(); len(st.Quota) != 1 || st.QuotaError != "timeout" {
		t.Fatalf("after a failed check: %+v", st)
	}
	if !(Quota{RemainingFraction: 0}).Exhausted() || (Quota{Unlimited: true}).Exhausted() || (Quota{RemainingFraction: 0.1}).Exhausted() {
		t.Fatal("Exhausted")
	}
	// Interval 0 watches nothing.
	src2 := &countingSource{}
	s2 := NewSet(map[string]*Account{"x": Static("x", "t")})
	s2.WatchQuota(src2, 0)
	time.Sleep(20 * time.Millisecond)
	s2.Close()
	if src2.calls.Load() != 0 {
		t.Fatal("interval 0 asked anyway")
	}
}

// The Copilot plugins' apps.json is read as it is: its GitHub token, the
// user as the label, written back in its own layout.
func TestCopilotAppsFile(t *testing.T) {
	b := []byte(`{"github.com:Iv1.b507a08c87ecfe98":{"user":"octocat","oauth_token":"gho_plugin","githubAppId":"Iv1.b507a08c87ecfe98"}}`)
	c, err := ParseCredential(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != FormatCopilotApps || c.AccessToken != "gho_plugin" || c.Email != "octocat" || !c.Expiry.IsZero() {
		t.Fatalf("%+v", c)
	}
	c.AccessToken = "gho_new"
	out, err := c.Marshal(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCredential(out)
	if err != nil || back.AccessToken != "gho_new" || back.Format != FormatCopilotApps || !strings.Contains(string(out), `"githubAppId"`) {
		t.Fatalf("written back: %s %v", out, err)
	}
	if _, err := ParseCredential([]byte(`{"github.com":{"user":"x"}}`)); err == nil {
		t.Fatal("an entry without a token was taken")
	}
}
