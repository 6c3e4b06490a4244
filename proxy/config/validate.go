package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Problem is one invalid setting, named by its key path.
type Problem struct {
	Key     string
	Message string
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// Problems lists every invalid setting found.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Validate checks the whole configuration and returns every problem, or nil.
func (c *Config) Validate() Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	checkCatalog("catalog", c.Catalog, add)
	for i := range c.Providers {
		checkCatalog(fmt.Sprintf("providers[%d].catalog", i), c.Providers[i].Catalog, add)
	}
	s := c.Server
	if s.Port < 0 || s.Port > 65535 {
		add("server.port", "must be between 0 and 65535, got %d", s.Port)
	}
	if s.Host == "" {
		add("server.host", "must not be empty")
	}
	if l := s.Limits; l.MaxJSONValues <= 0 || l.MaxJSONDepth <= 0 || l.MaxArrayItems <= 0 || l.MaxInflightBodyBytes <= 0 {
		add("server.limits", "max_json_values, max_json_depth, max_array_items and max_inflight_body_bytes must be positive")
	} else if l.MaxInflightBodyBytes < int64(s.MaxBodyBytes) {
		add("server.limits.max_inflight_body_bytes", "must be at least server.max_body_bytes (%d), or no body of the largest size could be read", s.MaxBodyBytes)
	}
	switch s.Auth {
	case "on":
		if len(nonEmpty(s.APIKeys)) == 0 && len(c.Clients) == 0 && !c.Store.Enabled {
			add("server.api_keys", "no client key is set: set one (PROXY_SERVER_API_KEYS, the file or --api-keys), or say server.auth: off to run without authentication")
		}
	case "off":
	default:
		add("server.auth", "must be on or off, got %q", s.Auth)
	}
	if s.Auth != "off" && c.usesExampleKey() {
		if name := c.realProvider(); name != "" {
			add("server.api_keys", "the example client key %s is still set while provider %q (a real upstream) is enabled; "+
				"anyone who read the README could spend its keys: set your own, e.g. PROXY_SERVER_API_KEYS=$(openssl rand -hex 24)", ExampleKey, name)
		}
	}
	c.validateStore(add)
	if s.AdminAddr != "" && !loopbackAddr(s.AdminAddr) {
		add("server.admin_addr", "%q is not a loopback address: pprof shows memory, goroutines and the command line; keep it on 127.0.0.1 or [::1] and reach it through SSH", s.AdminAddr)
	}
	if s.MaxBodyBytes <= 0 {
		add("server.max_body_bytes", "must be positive, got %d", s.MaxBodyBytes)
	}
	if s.ShutdownGrace < 0 {
		add("server.shutdown_grace", "must not be negative")
	}
	if s.StreamHeartbeat < 0 {
		add("server.stream_heartbeat", "must not be negative")
	}
	if s.MaxEventBytes < 4096 {
		add("server.max_event_bytes", "must be at least 4096, got %d", s.MaxEventBytes)
	}
	for i, k := range s.APIKeys {
		if k == "" {
			add(fmt.Sprintf("server.api_keys[%d]", i), "empty key (an unset ${VAR}?)")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console", "auto":
	default:
		add("log.format", "must be json, console or auto, got %q", c.Log.Format)
	}
	switch c.PromptLog.Mode {
	case "off", "console":
	case "file":
		if c.PromptLog.Path == "" {
			add("prompt_log.path", "required when mode is file")
		}
		if c.PromptLog.MaxBytes <= 0 {
			add("prompt_log.max_bytes", "must be positive")
		}
	default:
		add("prompt_log.mode", "must be off, console or file, got %q", c.PromptLog.Mode)
	}
	if len(c.Providers) == 0 {
		add("providers", "at least one provider is required")
	}
	names := map[string]int{}
	for i, p := range c.Providers {
		key := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			add(key+".name", "required")
		case strings.ContainsAny(p.Name, "/: "):
			add(key+".name", "%q must not contain '/', ':' or spaces (it is used as a path prefix)", p.Name)
		case p.Name == "v1" || p.Name == "v1beta" || p.Name == "health" || p.Name == "metrics":
			add(key+".name", "%q is reserved (it would shadow a route)", p.Name)
		default:
			if j, dup := names[p.Name]; dup {
				add(key+".name", "%q already used by providers[%d]", p.Name, j)
			}
			names[p.Name] = i
		}
		switch p.Type {
		case TypeMock:
		case TypeOpenAI, TypeClaude, TypeGemini, TypeOpenAIResponses:
			u, err := url.Parse(p.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(key+".base_url", "must be an http or https URL, got %q", p.BaseURL)
			}
		case TypeCodex, TypeGeminiCLI, TypeAntigravity, TypeKiro:
			if p.Type == TypeAntigravity && p.OAuth.ClientID == "" {
				add(key+".oauth.client_id", "required for type antigravity: the Antigravity app's OAuth client (its client_id and client_secret; the proxy ships none it could not verify)")
			}
			if p.Credentials == "" {
				add(key+".credentials", "required for type %s: an account file (e.g. ~/.codex/auth.json, ~/.gemini/oauth_creds.json, ~/.aws/sso/cache/kiro-auth-token.json) or a folder of them; `proxy login %s` makes one", p.Type, p.Type)
			}
			if p.OAuth.Timeout < 0 {
				add(key+".oauth.timeout", "must not be negative")
			}
			if p.QuotaInterval > 0 && p.QuotaInterval < time.Minute {
				add(key+".quota_interval", "at least 1m (a quota view need not burden the upstream), or negative for none")
			}
			if pu, err := url.Parse(p.QuotaURL); p.QuotaURL != "" && (err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "") {
				add(key+".quota_url", "must be an http or https URL, got %q", p.QuotaURL)
			}
			urls := []string{p.BaseURL, p.OAuth.TokenURL, p.OAuth.AuthorizeURL}
			if p.Type == TypeKiro {
				// Kiro signs in through the IDE (no authorize URL); its
				// token URLs name the account's region as {region}.
				urls = []string{p.BaseURL, p.OAuth.TokenURL, p.OAuth.OIDCTokenURL}
			}
			for _, u := range urls {
				u = strings.ReplaceAll(u, "{region}", "us-east-1")
				if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
					add(key, "base_url, oauth.token_url, oauth.authorize_url and oauth.oidc_token_url must be http or https URLs, got %q", u)
				}
			}
		case TypeCopilot:
			if p.Credentials == "" && len(nonEmpty(p.APIKeys)) == 0 {
				add(key+".credentials", "required for type copilot: a GitHub token file or a folder of them (`proxy login copilot` makes one), or GitHub tokens in api_keys")
			}
			if p.OAuth.Timeout < 0 {
				add(key+".oauth.timeout", "must not be negative")
			}
			if p.QuotaInterval > 0 && p.QuotaInterval < time.Minute {
				add(key+".quota_interval", "at least 1m (a quota view need not burden the upstream), or negative for none")
			}
			for _, u := range []string{p.BaseURL, p.OAuth.TokenURL, p.OAuth.DeviceURL, p.Copilot.TokenURL, p.QuotaURL} {
				if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
					add(key, "base_url, oauth.token_url, oauth.device_url, copilot.token_url and quota_url must be http or https URLs, got %q", u)
				}
			}
		case "":
			add(key+".type", "required (mock, openai, claude, gemini, openai-responses, codex, gemini-cli, antigravity, copilot, kiro)")
		default:
			add(key+".type", "unknown type %q (mock, openai, claude, gemini, openai-responses, codex, gemini-cli, antigravity, copilot, kiro)", p.Type)
		}
		if len(p.Models) == 0 {
			add(key+".models", "list at least one model, or \"*\"")
		}
		for j, m := range p.Models {
			if m == "" {
				add(fmt.Sprintf("%s.models[%d]", key, j), "empty model name")
			}
		}
		if p.MaxResponseBytes < 0 || p.MaxResponseTime < 0 {
			add(key+".max_response_bytes", "max_response_bytes and max_response_time must not be negative")
		}
		if p.MaxResponseHeaderBytes != 0 && p.MaxResponseHeaderBytes < 1024 {
			add(key+".max_response_header_bytes", "must be at least 1024 (or 0 for 4096), got %d", p.MaxResponseHeaderBytes)
		}
		if p.MaxConns < 0 {
			add(key+".max_conns", "must not be negative")
		}
		for _, d := range []struct {
			name string
			v    int64
		}{{"pool_wait", int64(p.PoolWait)}, {"connect_timeout", int64(p.ConnectTimeout)},
			{"first_byte_timeout", int64(p.FirstByteTimeout)}, {"idle_timeout", int64(p.IdleTimeout)}} {
			if d.v < 0 {
				add(key+"."+d.name, "must not be negative")
			}
		}
		for name, v := range p.Headers {
			if msg := badOperatorHeader(name, v); msg != "" {
				add(key+".headers."+name, "%s", msg)
			}
		}
		for j, name := range p.ForwardHeaders {
			if msg := badOperatorHeader(name, ""); msg != "" {
				add(fmt.Sprintf("%s.forward_headers[%d]", key, j), "%s", msg)
			}
		}
		if p.Type == TypeMock && (p.Mock.Tokens < 0 || p.Mock.Delay < 0) {
			add(key+".mock", "tokens and delay must not be negative")
		}
	}
	clients := map[string]int{}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if cl.Name == "" {
			add(key+".name", "required (it names the client in logs and metrics)")
		} else if j, dup := clients[cl.Name]; dup {
			add(key+".name", "%q already used by clients[%d]", cl.Name, j)
		} else {
			clients[cl.Name] = i
		}
		if cl.Key == "" {
			add(key+".key", "empty key (an unset ${VAR}?)")
		}
	}
	for alias, target := range c.Aliases {
		if alias == "" || target == "" {
			add("aliases."+alias, "alias and target must not be empty")
		}
	}
	switch c.SystemPrompt.Mode {
	case "", "append", "overwrite":
	default:
		add("system_prompt.mode", "must be append or overwrite, got %q", c.SystemPrompt.Mode)
	}
	c.validateReliability(add)
	c.validateCache(add)
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// HasKeys reports whether a provider has at least one non-empty key (mock
// providers need none).
func (p *Provider) HasKeys() bool {
	if p.Type == TypeMock {
		return true
	}
	if p.IsSubscription() {
		return p.Credentials != "" || (p.Type == TypeCopilot && len(nonEmpty(p.APIKeys)) > 0)
	}
	for _, k := range p.APIKeys {
		if k != "" {
			return true
		}
	}
	return false
}

// badOperatorHeader says what is wrong with a provider's extra header, or
// "". The proxy owns framing, routing and credentials: those headers are
// set from the provider's own settings and keys.
func badOperatorHeader(name, value string) string {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return "not a valid header name"
	}
	if strings.ContainsAny(value, "\r\n") {
		return "the value must not contain a line break"
	}
	switch strings.ToLower(name) {
	case "host", "content-length", "content-type", "transfer-encoding", "connection",
		"authorization", "x-api-key", "x-goog-api-key", "accept", "accept-encoding",
		"cookie", "proxy-authorization", "keep-alive", "te", "trailer", "upgrade", "expect":
		return "set by the proxy itself (keys go in api_keys)"
	}
	return ""
}

func nonEmpty(keys []string) []string {
	var out []string
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// usesExampleKey reports whether a client key is still the README's example.
func (c *Config) usesExampleKey() bool {
	for _, k := range c.Server.APIKeys {
		if k == ExampleKey {
			return true
		}
	}
	for _, cl := range c.Clients {
		if cl.Key == ExampleKey {
			return true
		}
	}
	return false
}

// realProvider names an enabled provider that is not the mock, or "".
func (c *Config) realProvider() string {
	for _, p := range c.Providers {
		if p.Type != TypeMock && p.HasKeys() {
			return p.Name
		}
	}
	return ""
}

// loopbackAddr reports whether host:port names a loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var modalities = map[string]bool{"text": true, "image": true, "audio": true, "video": true, "pdf": true}

func checkCatalog(key string, list []ModelInfo, add func(key, format string, args ...any)) {
	for i, m := range list {
		at := fmt.Sprintf("%s[%d]", key, i)
		if m.Model == "" {
			add(at+".model", "is required")
		}
		if m.ContextWindow < 0 || m.MaxOutputTokens < 0 {
			add(at, "context_window and max_output_tokens must not be negative")
		}
		if m.ContextWindow > 0 && m.MaxOutputTokens > m.ContextWindow {
			add(at+".max_output_tokens", "%d is more than context_window %d", m.MaxOutputTokens, m.ContextWindow)
		}
		if p := m.Price; p.Input < 0 || p.Output < 0 || p.CachedInput < 0 {
			add(at+".price", "prices must not be negative")
		}
		for _, in := range m.Input {
			if !modalities[in] {
				add(at+".input", "unknown modality %q (text, image, audio, video, pdf)", in)
			}
		}
	}
}

// validateStore checks the store and admin sections.
func (c *Config) validateStore(add func(key, format string, args ...any)) {
	st := c.Store
	if st.Driver != "sqlite" && st.Driver != "postgres" {
		add("store.driver", "must be sqlite or postgres, got %q", st.Driver)
	}
	if st.Enabled && c.Server.Auth == "off" {
		add("store.enabled", "virtual keys and usage records need client authentication: server.auth is off")
	}
	if st.Enabled && st.DSN == "" {
		add("store.dsn", "must name the SQLite file or the postgres:// URL")
	}
	if st.UsageQueue <= 0 || st.UsageBatch <= 0 || st.FlushInterval <= 0 || st.SyncInterval <= 0 {
		add("store", "usage_queue, usage_batch, flush_interval and sync_interval must be positive")
	}
	for key, v := range map[string]string{"store.limits_fail": st.LimitsFail, "store.budgets_fail": st.BudgetsFail} {
		if v != "open" && v != "closed" {
			add(key, "must be open or closed, got %q", v)
		}
	}
	if st.UsageRetention < 0 {
		add("store.usage_retention", "must not be negative")
	}
	if h := c.Admin.PasswordHash; h != "" && !strings.HasPrefix(h, "$2") {
		add("admin.password_hash", "must be a bcrypt hash ($2a$/$2b$...): make one with 'proxy admin hash-password'")
	}
	if k := c.Admin.Key; k != "" && len(k) < 16 {
		add("admin.key", "is too short to stand against guessing: use at least 16 characters, e.g. $(openssl rand -hex 24)")
	}
	if c.Admin.SessionTTL <= 0 {
		add("admin.session_ttl", "must be positive")
	}
}
