package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/testservers"
)

// The same suite runs on an embedded SQLite file and a real PostgreSQL.
func TestStoreSQLite(t *testing.T) {
	s, err := Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "proxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runSuite(t, s)
}

func TestStorePostgres(t *testing.T) {
	dsn := testservers.Postgres(t)
	s, err := Open(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runSuite(t, s)
	// A second instance opening the same database finds it migrated.
	s2, err := Open(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err := s2.Version(context.Background()); err != nil || v != len(migrations) {
		t.Fatalf("version %d, %v; want %d", v, err, len(migrations))
	}
}

func runSuite(t *testing.T, s *Store) {
	ctx := context.Background()
	t.Run("Migrated", func(t *testing.T) {
		v, err := s.Version(ctx)
		if err != nil || v != len(migrations) {
			t.Fatalf("version %d, %v", v, err)
		}
		// Migrating again is a no-op.
		if err := s.migrate(ctx); err != nil {
			t.Fatal(err)
		}
	})
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	k := tenants.Key{ID: "vk_1", Name: "team", Prefix: "sk-px-abcdef", Hash: tenants.HashKey([]byte("sk-px-secret")),
		Labels: map[string]string{"team": "search"}, Models: []string{"gpt-4o-mini", "fast"}, Providers: []string{"openai"},
		RPM: 60, TPM: 1000, Budget: tenants.Budget{Kind: tenants.BudgetUSD, Amount: 12.5, Period: tenants.PeriodMonth},
		ExpiresAt: &exp, CreatedAt: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
	t.Run("KeysRoundTrip", func(t *testing.T) {
		if err := s.CreateKey(ctx, &k); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, &k); err == nil {
			t.Fatal("a duplicate id was stored")
		}
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
		g := keys[0]
		if g.Hash != k.Hash || g.Name != "team" || g.Labels["team"] != "search" || len(g.Models) != 2 || g.Providers[0] != "openai" ||
			g.RPM != 60 || g.TPM != 1000 || g.Budget != k.Budget || !g.ExpiresAt.Equal(exp) || g.RevokedAt != nil || !g.CreatedAt.Equal(k.CreatedAt) {
			t.Fatalf("read back %+v", g)
		}
		now := time.Now().UTC().Truncate(time.Second)
		old := tenants.HashKey([]byte("sk-px-old"))
		g.RevokedAt, g.OldHash, g.OldUntil, g.Models = &now, &old, &now, nil
		if err := s.UpdateKey(ctx, &g); err != nil {
			t.Fatal(err)
		}
		keys, _ = s.Keys(ctx)
		if keys[0].RevokedAt == nil || !keys[0].RevokedAt.Equal(now) || *keys[0].OldHash != old || len(keys[0].Models) != 0 {
			t.Fatalf("update not stored: %+v", keys[0])
		}
		missing := tenants.Key{ID: "vk_none", Hash: tenants.HashKey([]byte("x"))}
		if err := s.UpdateKey(ctx, &missing); err != tenants.ErrNotFound {
			t.Fatalf("update of a missing key: %v", err)
		}
	})
	t.Run("Spend", func(t *testing.T) {
		for i, want := range []int64{5, 12, 112} {
			got, err := s.AddSpend(ctx, "vk_1", 1000, []int64{5, 7, 100}[i])
			if err != nil || got != want {
				t.Fatalf("add %d: total %d, %v; want %d", i, got, err, want)
			}
		}
		if got, _ := s.AddSpend(ctx, "vk_1", 2000, 1); got != 1 {
			t.Fatalf("a new period starts at its own spend, got %d", got)
		}
		if err := s.ResetSpend(ctx, "vk_1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.AddSpend(ctx, "vk_1", 1000, 0); got != 0 {
			t.Fatalf("after reset: %d", got)
		}
	})
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	t.Run("Usage", func(t *testing.T) {
		var batch []tenants.Record
		for i := 0; i < 30; i++ {
			r := tenants.Record{Time: base.Add(time.Duration(i) * 5 * time.Minute), KeyID: "vk_1", Client: "team", Protocol: "openai-chat",
				Provider: "openai", Account: "key-1", Model: "gpt-4o-mini", Status: 200, Stream: i%2 == 0,
				Input: 10, Output: 5, Cached: 2, Reasoning: 1, CostUSD: 0.001, Latency: 200 * time.Millisecond, TTFT: 50 * time.Millisecond}
			if i%10 == 9 {
				r.Model, r.Provider, r.Status, r.KeyID = "claude", "anthropic", 429, "vk_2"
			}
			batch = append(batch, r)
		}
		if err := s.InsertUsage(ctx, batch); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Aggregate(ctx, tenants.Query{From: base, To: base.Add(3 * time.Hour), Bucket: "hour", GroupBy: "model"})
		if err != nil {
			t.Fatal(err)
		}
		// 12 records an hour (every 5 min) for hours 0 and 1, 6 in hour 2;
		// i=9,19,29 are claude (hours 0, 1, 2).
		want := []struct {
			hour        int
			group       string
			n, errs, in int64
		}{{0, "claude", 1, 1, 10}, {0, "gpt-4o-mini", 11, 0, 110}, {1, "claude", 1, 1, 10}, {1, "gpt-4o-mini", 11, 0, 110},
			{2, "claude", 1, 1, 10}, {2, "gpt-4o-mini", 5, 0, 50}}
		if len(rows) != len(want) {
			t.Fatalf("rows %+v", rows)
		}
		for i, w := range want {
			r := rows[i]
			if !r.Time.Equal(base.Add(time.Duration(w.hour)*time.Hour)) || r.Group != w.group || r.Requests != w.n || r.Errors != w.errs || r.Input != w.in {
				t.Errorf("row %d = %+v, want %+v", i, r, w)
			}
			if r.LatencyMSAvg != 200 || r.Output != w.n*5 || r.Cached != w.n*2 || r.Reasoning != w.n {
				t.Errorf("row %d sums %+v", i, r)
			}
		}
		totals, err := s.Aggregate(ctx, tenants.Query{From: base, To: base.Add(24 * time.Hour), Bucket: "day", KeyID: "vk_1"})
		if err != nil || len(totals) != 1 || totals[0].Requests != 27 || totals[0].CostUSD < 0.0269 || totals[0].CostUSD > 0.0271 {
			t.Fatalf("totals %+v %v", totals, err)
		}
		byProv, err := s.Aggregate(ctx, tenants.Query{From: base, To: base.Add(24 * time.Hour), Bucket: "day", GroupBy: "provider", Provider: "anthropic"})
		if err != nil || len(byProv) != 1 || byProv[0].Group != "anthropic" || byProv[0].Requests != 3 {
			t.Fatalf("by provider %+v %v", byProv, err)
		}
		if _, err := s.Aggregate(ctx, tenants.Query{From: base, To: base, Bucket: "week"}); err == nil {
			t.Fatal("a bad bucket was accepted")
		}
		if _, err := s.Aggregate(ctx, tenants.Query{From: base, To: base, GroupBy: "model; DROP TABLE keys"}); err == nil {
			t.Fatal("a bad group_by was accepted")
		}
		recs, err := s.Records(ctx, tenants.Query{From: base, To: base.Add(24 * time.Hour), Model: "claude", Limit: 2})
		if err != nil || len(recs) != 2 || !recs[0].Time.Equal(base.Add(29*5*time.Minute)) || recs[0].Status != 429 ||
			recs[0].TTFT != 50*time.Millisecond || recs[0].Account != "key-1" {
			t.Fatalf("records %+v %v", recs, err)
		}
		older, err := s.Records(ctx, tenants.Query{From: base, To: base.Add(24 * time.Hour), Model: "claude", Before: recs[1].Time})
		if err != nil || len(older) != 1 {
			t.Fatalf("paging %+v %v", older, err)
		}
		n, err := s.DeleteUsageBefore(ctx, base.Add(time.Hour))
		if err != nil || n != 12 {
			t.Fatalf("retention deleted %d, %v", n, err)
		}
	})
}
