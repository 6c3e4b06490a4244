package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// query reads the usage filters of a request.
func query(r *http.Request) (tenants.Query, error) {
	v := r.URL.Query()
	now := time.Now()
	q := tenants.Query{From: now.Add(-24 * time.Hour), To: now, KeyID: v.Get("key"), Model: v.Get("model"),
		Provider: v.Get("provider"), Bucket: v.Get("bucket"), GroupBy: v.Get("group_by")}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To, "before": &q.Before} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, fmt.Errorf("%s: an RFC 3339 time, got %q", name, s)
			}
			*dst = t
		}
	}
	if q.Bucket == "" {
		q.Bucket = "hour"
	}
	if tenants.BucketSeconds(q.Bucket) == 0 {
		return q, fmt.Errorf("bucket: minute, hour or day, got %q", q.Bucket)
	}
	if _, ok := tenants.GroupColumns[q.GroupBy]; !ok {
		return q, fmt.Errorf("group_by: key, model, provider, client or empty, got %q", q.GroupBy)
	}
	if !q.To.After(q.From) {
		return q, fmt.Errorf("to must be after from")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("limit: 1 to 1000, got %q", s)
		}
		q.Limit = n
	}
	return q, nil
}

func (a *api) usage(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	// Bound the answer: at most ~10k buckets per group.
	if span := q.To.Sub(q.From); span/time.Duration(tenants.BucketSeconds(q.Bucket)*int64(time.Second)) > 10000 {
		writeError(w, http.StatusBadRequest, "invalid", "too many buckets: use a larger bucket or a shorter period")
		return
	}
	rows, err := a.o.Tenants.Usage(r.Context(), q)
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"bucket": q.Bucket, "group_by": q.GroupBy, "rows": rows})
}

// recordView is a record with its durations in milliseconds.
type recordView struct {
	tenants.Record
	LatencyMS float64 `json:"latency_ms"`
	TTFTMS    float64 `json:"ttft_ms"`
}

func view(r tenants.Record) recordView {
	return recordView{Record: r, LatencyMS: ms(r.Latency), TTFTMS: ms(r.TTFT)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (a *api) records(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	recs, err := a.o.Tenants.Records(r.Context(), q)
	if err != nil {
		a.serviceError(w, err)
		return
	}
	out := make([]recordView, len(recs))
	for i, rec := range recs {
		out[i] = view(rec)
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out})
}

// events streams finished requests as server-sent events.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "unsupported", "streaming unsupported")
		return
	}
	ch, lost, cancel := a.o.Tenants.Recorder().Subscribe(256)
	defer cancel()
	names := map[string]string{}
	if keys, err := a.o.Tenants.List(r.Context()); err == nil {
		for _, k := range keys {
			names[k.ID] = k.Name
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, ": live request log\n\n")
	fl.Flush()
	tick := time.NewTicker(a.o.Heartbeat)
	defer tick.Stop()
	reported := int64(0)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		case rec := <-ch:
			if n := lost.Load(); n != reported {
				_, _ = fmt.Fprintf(w, ": dropped %d\n\n", n-reported)
				reported = n
			}
			key := names[rec.KeyID]
			if key == "" && rec.KeyID != "" {
				if v, err := a.o.Tenants.Get(r.Context(), rec.KeyID); err == nil {
					key, names[rec.KeyID] = v.Name, v.Name
				}
			}
			b, _ := json.Marshal(map[string]any{"time": rec.Time, "key": key, "key_id": rec.KeyID, "client": rec.Client,
				"model": rec.Model, "provider": rec.Provider, "protocol": rec.Protocol, "status": rec.Status,
				"latency_ms": ms(rec.Latency), "ttft_ms": ms(rec.TTFT), "input_tokens": rec.Input,
				"output_tokens": rec.Output, "cost_usd": rec.CostUSD, "stream": rec.Stream})
			if _, err := fmt.Fprintf(w, "event: request\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		fl.Flush()
	}
}
