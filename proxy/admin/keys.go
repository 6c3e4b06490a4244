package admin

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
)

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (a *api) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.o.Tenants.List(r.Context())
	if err != nil {
		a.serviceError(w, err)
		return
	}
	out := make([]tenants.KeyView, 0, len(keys))
	for _, k := range keys {
		if r.URL.Query().Get("active") == "1" && !k.Active(time.Now()) {
			continue
		}
		out = append(out, k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// keyFields are the fields an operator writes; pointers tell absent from set.
type keyFields struct {
	Name      *string            `json:"name"`
	Labels    *map[string]string `json:"labels"`
	Models    *[]string          `json:"models"`
	Providers *[]string          `json:"providers"`
	RPM       *int64             `json:"rpm"`
	TPM       *int64             `json:"tpm"`
	Budget    *tenants.Budget    `json:"budget"`
	ExpiresAt *time.Time         `json:"expires_at"`
}

// apply writes the fields present in raw (null clears) onto k.
func (f *keyFields) apply(k *tenants.Key, raw map[string]json.RawMessage) {
	null := func(name string) bool { v, ok := raw[name]; return ok && string(v) == "null" }
	if f.Name != nil {
		k.Name = *f.Name
	}
	if f.Labels != nil || null("labels") {
		k.Labels = deref(f.Labels)
	}
	if f.Models != nil || null("models") {
		k.Models = deref(f.Models)
	}
	if f.Providers != nil || null("providers") {
		k.Providers = deref(f.Providers)
	}
	if f.RPM != nil || null("rpm") {
		k.RPM = deref(f.RPM)
	}
	if f.TPM != nil || null("tpm") {
		k.TPM = deref(f.TPM)
	}
	if f.Budget != nil || null("budget") {
		k.Budget = deref(f.Budget)
	}
	if f.ExpiresAt != nil || null("expires_at") {
		k.ExpiresAt = f.ExpiresAt
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// readKeyFields decodes a key description, strictly.
func readKeyFields(r *http.Request) (keyFields, map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := decode(r, &raw); err != nil {
		return keyFields{}, nil, err
	}
	b, _ := json.Marshal(raw)
	var f keyFields
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return keyFields{}, nil, fmt.Errorf("body: %w", err)
	}
	return f, raw, nil
}

func (a *api) createKey(w http.ResponseWriter, r *http.Request) {
	f, raw, err := readKeyFields(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	var k tenants.Key
	f.apply(&k, raw)
	secret, v, err := a.o.Tenants.Create(r.Context(), k)
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": secret, "id": v.ID, "item": v})
}

func (a *api) getKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.o.Tenants.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) patchKey(w http.ResponseWriter, r *http.Request) {
	f, raw, err := readKeyFields(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	v, err := a.o.Tenants.Update(r.Context(), r.PathValue("id"), func(k *tenants.Key) error {
		f.apply(k, raw)
		return nil
	})
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) revokeKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.o.Tenants.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) rotateKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Grace string `json:"grace"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &body); err != nil {
			writeError(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
	}
	var grace time.Duration
	if body.Grace != "" {
		var err error
		if grace, err = time.ParseDuration(body.Grace); err != nil || grace < 0 || grace > 30*24*time.Hour {
			writeError(w, http.StatusBadRequest, "invalid", "grace: a duration such as \"10m\", at most 720h")
			return
		}
	}
	secret, v, err := a.o.Tenants.Rotate(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": secret, "item": v})
}

func (a *api) resetKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.o.Tenants.Reset(r.Context(), r.PathValue("id"))
	if err != nil {
		a.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
