package proxy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// masked replaces a secret by this, so an operator sees it is set.
const masked = "***"

// ConfigJSON renders the running configuration for the admin API with
// every key, password hash and secret masked; the redactor then masks any
// configured key that still appears anywhere (a key pasted into a URL).
func (s *Server) ConfigJSON() []byte {
	snap := s.current()
	c := *snap.cfg
	mask := func(list []string) []string {
		out := make([]string, len(list))
		for i, v := range list {
			if v != "" {
				out[i] = masked
			}
		}
		return out
	}
	c.Server.APIKeys = mask(c.Server.APIKeys)
	c.Clients = append(c.Clients[:0:0], c.Clients...)
	for i := range c.Clients {
		c.Clients[i].Key = masked
	}
	c.Providers = append(c.Providers[:0:0], c.Providers...)
	for i := range c.Providers {
		p := &c.Providers[i]
		p.APIKeys = mask(p.APIKeys)
		if p.OAuth.ClientSecret != "" {
			p.OAuth.ClientSecret = masked
		}
		// Headers sent upstream may carry credentials (an Authorization,
		// a gateway's key): their names are shown, never their values.
		if len(p.Headers) > 0 {
			h := make(map[string]string, len(p.Headers))
			for k := range p.Headers {
				h[k] = masked
			}
			p.Headers = h
		}
		p.BaseURL = maskUserinfo(p.BaseURL)
		p.FallbackBaseURLs = append([]string(nil), p.FallbackBaseURLs...)
		for j, u := range p.FallbackBaseURLs {
			p.FallbackBaseURLs[j] = maskUserinfo(u)
		}
	}
	if c.Cache.Redis.Password != "" {
		c.Cache.Redis.Password = masked
	}
	if c.Admin.Key != "" {
		c.Admin.Key = masked
	}
	if c.Admin.PasswordHash != "" {
		c.Admin.PasswordHash = masked
	}
	if c.Store.Redis != "" {
		c.Store.Redis = masked
	}
	if strings.Contains(c.Store.DSN, "://") {
		c.Store.DSN = masked
	}
	b, err := json.Marshal(configTree(reflect.ValueOf(c)))
	if err != nil {
		return []byte(`{"error":"cannot render the configuration"}`)
	}
	return snap.redactor.Bytes(nil, b)
}

// maskUserinfo masks the user and password of a URL (https://u:p@host).
func maskUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return strings.Replace(u.String(), "//", "//"+masked+"@", 1)
}

// configTree turns the configuration into maps keyed by the names the
// config file uses (koanf tags; fallbacks and aliases by snake case),
// durations as "30s".
func configTree(v reflect.Value) any {
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return configTree(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Tag.Get("koanf")
			if name == "" || name == "-" {
				name = strings.ToLower(f.Name)
			}
			out[name] = configTree(v.Field(i))
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = configTree(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = configTree(iter.Value())
		}
		return out
	}
	return v.Interface()
}
