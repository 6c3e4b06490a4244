package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/testservers"
	"github.com/valyala/fasthttp"
)

// tenantConfig is a proxy with virtual keys on an SQLite file in dir and
// two mock providers; "fast" is an alias of a's model.
func tenantConfig(dbPath string) *config.Config {
	slow := mockProvider("b", 20, "mock-other")
	slow.Mock.Delay = 40 * time.Millisecond
	cfg := baseConfig(mockProvider("a", 5, "mock-gpt"), slow)
	cfg.Aliases = map[string]string{"fast": "a/mock-gpt"}
	cfg.Store.Enabled, cfg.Store.DSN = true, dbPath
	cfg.Store.FlushInterval, cfg.Store.SyncInterval = 20*time.Millisecond, 50*time.Millisecond
	return cfg
}

func sdkClient(t *testing.T, base, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(key),
		option.WithHTTPClient(httpClient(t)), option.WithMaxRetries(0))
}

// TestTenantKeyFromSDK: a key created at run time works from the official
// SDK, within its models (aliases included) and providers, under its rate
// limit (429 with Retry-After), its use recorded with tokens and cost.
func TestTenantKeyFromSDK(t *testing.T) {
	srv, base := startProxy(t, tenantConfig(filepath.Join(t.TempDir(), "p.db")))
	svc := srv.Tenants()
	ctx := context.Background()
	secret, kv, err := svc.Create(ctx, tenants.Key{Name: "team", Models: []string{"fast", "mock-other"}, Providers: []string{"a"}, RPM: 4})
	if err != nil {
		t.Fatal(err)
	}
	sdk := sdkClient(t, base, secret)
	got, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fast",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || got.Usage.CompletionTokens == 0 {
		t.Fatalf("chat with a virtual key: %v %+v", err, got)
	}
	st := sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "fast",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	chunks := 0
	for st.Next() {
		chunks++
	}
	if st.Err() != nil || chunks == 0 {
		t.Fatalf("stream: %v after %d chunks", st.Err(), chunks)
	}
	c := httpClient(t)
	cases := []struct {
		name, model string
		status      int
		want        string
	}{
		{"model outside the list", "mock-gpt", 403, "not allowed"},
		{"provider outside the list", "mock-other", 403, "may not use"},
		{"over requests per minute", "fast", 429, "requests per minute"},
	}
	for _, tc := range cases {
		resp, body := do(t, c, "POST", base+"/v1/chat/completions", chatBody(tc.model, false), bearer(secret))
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
		if tc.status == 429 {
			if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("429 without Retry-After: %q", ra)
			}
			if typ, _, _ := openAIError(t, body); typ == "" {
				t.Fatalf("429 not in OpenAI's error shape: %s", body)
			}
		}
	}
	// Usage: both served requests (and the refused ones) are recorded.
	var recs []tenants.Record
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, err = svc.Records(ctx, tenants.Query{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), KeyID: kv.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var streamed, whole bool
	for _, r := range recs {
		if r.Client != "team" || r.Protocol != "openai" {
			t.Fatalf("record %+v", r)
		}
		if r.Status == 200 && r.Provider == "a" && r.Model == "mock-gpt" && r.Latency > 0 {
			if r.Stream {
				// The stream did not ask for usage (stream_options); its timing is recorded.
				streamed = r.TTFT > 0
			} else {
				whole = r.Input > 0 && r.Output > 0
			}
		}
	}
	if !streamed || !whole || len(recs) < 4 {
		t.Fatalf("records %+v", recs)
	}
	rows, err := svc.Usage(ctx, tenants.Query{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), GroupBy: "model"})
	if err != nil || len(rows) == 0 {
		t.Fatalf("usage %v %v", rows, err)
	}
}

// TestTenantBudgetAndRevoke: over budget the answer is 429 in the client's
// protocol (Anthropic here) with a clear message; a key revoked while its
// stream runs refuses new requests at once, and the stream finishes.
func TestTenantBudgetAndRevoke(t *testing.T) {
	srv, base := startProxy(t, tenantConfig(filepath.Join(t.TempDir(), "p.db")))
	svc := srv.Tenants()
	ctx := context.Background()
	secret, _, err := svc.Create(ctx, tenants.Key{Name: "small", Budget: tenants.Budget{Kind: tenants.BudgetTokens, Amount: 5, Period: tenants.PeriodDay}})
	if err != nil {
		t.Fatal(err)
	}
	c := httpClient(t)
	msg := `{"model":"mock-gpt","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`
	hdr := map[string]string{"x-api-key": secret, "anthropic-version": "2023-06-01"}
	if resp, body := do(t, c, "POST", base+"/v1/messages", msg, hdr); resp.StatusCode != 200 {
		t.Fatalf("first request: %d %s", resp.StatusCode, body)
	}
	resp, body := do(t, c, "POST", base+"/v1/messages", msg, hdr)
	if resp.StatusCode != 429 || !strings.Contains(string(body), `"type":"error"`) || !strings.Contains(string(body), "budget") ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over budget: %d %s", resp.StatusCode, body)
	}

	other, kv, err := svc.Create(ctx, tenants.Key{Name: "streamer"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(chatBody("mock-other", true)))
	req.Header.Set("Authorization", "Bearer "+other)
	req.Header.Set("Content-Type", "application/json")
	sresp, err := c.Do(req)
	if err != nil || sresp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, sresp.Status)
	}
	defer sresp.Body.Close()
	rd := bufio.NewReader(sresp.Body)
	if _, err := readDataEvent(rd); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revoke(ctx, kv.ID); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, c, "POST", base+"/v1/chat/completions", chatBody("mock-gpt", false), bearer(other)); resp.StatusCode != 401 {
		t.Fatalf("a revoked key was served: %d %s", resp.StatusCode, body)
	}
	last := ""
	for {
		d, err := readDataEvent(rd)
		if err != nil {
			break
		}
		last = d
	}
	if last != "[DONE]" {
		t.Fatalf("the running stream did not finish: last %q", last)
	}
}

// TestTenantTwoInstancesShareRedis: two proxies with one key store and one
// Redis hold one per-key limit between them.
func TestTenantTwoInstancesShareRedis(t *testing.T) {
	addr := testservers.Redis(t)
	db := filepath.Join(t.TempDir(), "shared.db")
	var bases [2]string
	var svc *tenants.Service
	for i := range bases {
		cfg := tenantConfig(db)
		cfg.Store.Redis = "redis://" + addr + "/0"
		srv, base := startProxy(t, cfg)
		bases[i] = base
		if i == 0 {
			svc = srv.Tenants()
		}
	}
	secret, _, err := svc.Create(context.Background(), tenants.Key{Name: "shared", RPM: 3})
	if err != nil {
		t.Fatal(err)
	}
	c := httpClient(t)
	// The second instance learns the key from the store within sync_interval.
	deadline := time.Now().Add(5 * time.Second)
	var probed int64
	for {
		probed = time.Now().Unix() / 60
		resp, _ := do(t, c, "GET", bases[1]+"/v1/models", "", bearer(secret))
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second instance never knew the key")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for attempt := 0; attempt < 3; attempt++ {
		if left := 60 - time.Now().Unix()%60; left < 10 {
			time.Sleep(time.Duration(left+1) * time.Second) // not across a minute boundary
		}
		minute := time.Now().Unix() / 60
		ok, limited := 0, 0
		for i := 0; i < 8; i++ {
			resp, body := do(t, c, "POST", bases[i%2]+"/v1/chat/completions", chatBody("mock-gpt", false), bearer(secret))
			switch resp.StatusCode {
			case 200:
				ok++
			case 429:
				limited++
			default:
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
		if time.Now().Unix()/60 != minute {
			continue // crossed a minute: try again
		}
		want := 3
		if minute == probed {
			want = 2 // the probe counted
		}
		if ok != want || limited != 8-want {
			t.Fatalf("rpm 3 across two instances: %d served, %d limited", ok, limited)
		}
		return
	}
	t.Fatal("could not run within one minute")
}

// TestTenantProvidersHoldForFallbacks: a key limited to providers a and c
// is never sent to b as a fallback; the snapshot's own chain (shared by
// every request) is left as it was.
func TestTenantProvidersHoldForFallbacks(t *testing.T) {
	cfg := tenantConfig(filepath.Join(t.TempDir(), "p.db"))
	cfg.Providers = append(cfg.Providers, mockProvider("c", 5, "mock-third"))
	cfg.Fallbacks = map[string][]string{"mock-gpt": {"b/mock-other", "c/mock-third"}}
	srv, _ := startProxy(t, cfg)
	limited, _, err := srv.Tenants().Create(context.Background(), tenants.Key{Name: "a-and-c", Providers: []string{"a", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	anyKey, _, err := srv.Tenants().Create(context.Background(), tenants.Key{Name: "any"})
	if err != nil {
		t.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	snap := srv.current()
	r, _, msg := snap.route(&ctx, []byte("mock-gpt"))
	if msg != "" {
		t.Fatal(msg)
	}
	providers := func(ts []retry.Target) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Provider)
		}
		return strings.Join(s, ",")
	}
	if got := providers(snap.chainFor(srv.virtualClient([]byte(limited)), r)); got != "a,c" {
		t.Fatalf("chain of a key limited to a and c: %s", got)
	}
	for _, ts := range [][]retry.Target{snap.chainFor(srv.virtualClient([]byte(anyKey)), r), snap.chain(r)} {
		if got := providers(ts); got != "a,b,c" {
			t.Fatalf("an unlimited key's chain or the snapshot's: %s", got)
		}
	}
}

// TestTenantRecordsAccount: a usage record names the upstream key that
// answered by its label (never the key).
func TestTenantRecordsAccount(t *testing.T) {
	up := openaiProvider("up", startUpstream(t, &siRecorder{}), "up-model")
	up.KeyOptions = []config.KeyOption{{Label: "team-primary"}}
	cfg := baseConfig(up)
	cfg.Store.Enabled, cfg.Store.DSN = true, filepath.Join(t.TempDir(), "p.db")
	cfg.Store.FlushInterval = 20 * time.Millisecond
	srv, base := startProxy(t, cfg)
	secret, kv, err := srv.Tenants().Create(context.Background(), tenants.Key{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, httpClient(t), "POST", base+"/v1/chat/completions", chatBody("up-model", false), bearer(secret)); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var recs []tenants.Record
	waitFor(t, "the record", func() bool {
		recs, err = srv.Tenants().Records(context.Background(), tenants.Query{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), KeyID: kv.ID})
		return err == nil && len(recs) == 1
	})
	if recs[0].Account != "team-primary" || strings.Contains(fmt.Sprint(recs[0]), upstreamKey) {
		t.Fatalf("record %+v", recs[0])
	}
}

// TestCacheHitsNotBilledToKey: a virtual key's repeated requests answered
// from the response cache (plain and streamed) are recorded, but with no
// tokens and no cost: only the answers the upstream gave count against
// the key's usage and budget. (A replayed stream was not recorded at all
// until this test.)
func TestCacheHitsNotBilledToKey(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Store.Enabled, c.Store.DSN = true, filepath.Join(t.TempDir(), "p.db")
		c.Store.FlushInterval = 20 * time.Millisecond
	})
	secret, kv, err := r.srv.Tenants().Create(context.Background(), tenants.Key{Name: "cached"})
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]string{"Authorization": "Bearer " + secret}
	for _, stream := range []bool{false, true} {
		body := greedyChat(fmt.Sprintf("billing %v", stream), stream)
		if stream { // the upstream reports a stream's usage when asked
			body = strings.TrimSuffix(body, "}") + `,"stream_options":{"include_usage":true}}`
		}
		r.send("/v1/chat/completions", body, key, "miss", true)
		r.send("/v1/chat/completions", body, key, "hit", false)
	}
	var recs []tenants.Record
	waitFor(t, "four records", func() bool {
		recs, err = r.srv.Tenants().Records(context.Background(), tenants.Query{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), KeyID: kv.ID})
		return err == nil && len(recs) == 4
	})
	billed := 0
	for _, rec := range recs {
		if rec.Input+rec.Output > 0 {
			billed++
		} else if rec.CostUSD != 0 {
			t.Errorf("a record without tokens costs %v: %+v", rec.CostUSD, rec)
		}
	}
	if billed != 2 {
		t.Fatalf("%d of 4 records carry tokens, want the 2 upstream answers: %+v", billed, recs)
	}
}
