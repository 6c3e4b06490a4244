// Package config loads the proxy's configuration: built-in defaults, then a
// YAML file, then PROXY_* environment variables, then command-line flags,
// and validates the result, naming each problem by its key path.
package config

import (
	"time"
)

// Config is the whole configuration.
type Config struct {
	Server    Server     `koanf:"server"`
	Log       Log        `koanf:"log"`
	PromptLog PromptLog  `koanf:"prompt_log"`
	Providers []Provider `koanf:"providers"`
	// Fallbacks maps a model to its ordered fallback chain of
	// "provider/model" targets, tried after the model's own provider fails.
	// Model names may contain dots: the file's map is read verbatim.
	Fallbacks map[string][]string `koanf:"-"`
	// Retry is the retry and failover policy.
	Retry Retry `koanf:"retry"`
	// Clients are named client keys, each optionally limited to some models
	// (server.api_keys stay valid as unnamed keys that may use any model).
	Clients []Client `koanf:"clients"`
	// Aliases map a public model name to "provider/model" or a model name.
	// Names may contain dots: the file's map is read verbatim.
	Aliases map[string]string `koanf:"-"`
	// SystemPrompt, if set, is applied to every request in every protocol.
	SystemPrompt SystemPrompt `koanf:"system_prompt"`
	// Catalog overrides or adds entries of the built-in model catalog
	// (limits and prices) for every provider.
	Catalog []ModelInfo `koanf:"catalog"`
	// Store keeps virtual keys and usage (off unless enabled).
	Store Store `koanf:"store"`
	// Admin authenticates the admin API on server.admin_addr.
	Admin Admin `koanf:"admin"`
	// Cache is the exact response cache, off unless it names targets.
	Cache Cache `koanf:"cache"`
}

// Store configures virtual keys, usage accounting and where they live.
// Changing it takes a restart.
type Store struct {
	// Enabled turns on virtual keys and usage records.
	Enabled bool `koanf:"enabled"`
	// Driver is sqlite (an embedded file, the default) or postgres.
	Driver string `koanf:"driver"`
	// DSN is the SQLite file path or a postgres:// URL.
	DSN string `koanf:"dsn"`
	// Redis (redis://host:port/db), if set, counts limits and budgets
	// across instances.
	Redis string `koanf:"redis"`
	// UsageRetention deletes older usage records (0 keeps them).
	UsageRetention time.Duration `koanf:"usage_retention"`
	// UsageQueue bounds records waiting to be written; beyond, they are dropped and counted.
	UsageQueue int `koanf:"usage_queue"`
	// UsageBatch is the number of records written per transaction.
	UsageBatch    int           `koanf:"usage_batch"`
	FlushInterval time.Duration `koanf:"flush_interval"`
	// SyncInterval reloads keys and budget spend other instances wrote.
	SyncInterval time.Duration `koanf:"sync_interval"`
	// LimitsFail and BudgetsFail say what happens to rate limits and
	// budgets when Redis is down: open (admit) or closed (refuse).
	LimitsFail  string `koanf:"limits_fail"`
	BudgetsFail string `koanf:"budgets_fail"`
}

// Admin authenticates the admin API.
type Admin struct {
	// Key is the bearer key for scripts.
	Key string `koanf:"key"`
	// PasswordHash is the bcrypt hash of the console password.
	PasswordHash string        `koanf:"password_hash"`
	SessionTTL   time.Duration `koanf:"session_ttl"`
}

// ModelInfo overrides or adds one model catalog entry: zero numbers and an
// absent reasoning keep the built-in figures. A list rather than a map,
// because model names contain dots.
type ModelInfo struct {
	Model           string `koanf:"model"`
	ContextWindow   int    `koanf:"context_window"`
	MaxOutputTokens int    `koanf:"max_output_tokens"`
	// Reasoning: the model takes reasoning effort or thinking budgets.
	Reasoning *bool `koanf:"reasoning"`
	// Input lists the modalities it reads: text, image, audio, video, pdf.
	Input []string   `koanf:"input"`
	Price ModelPrice `koanf:"price"`
}

// ModelPrice is a list price in US dollars per million tokens.
type ModelPrice struct {
	Input       float64 `koanf:"input"`
	Output      float64 `koanf:"output"`
	CachedInput float64 `koanf:"cached_input"`
}

// Client is a named client key.
type Client struct {
	Name string `koanf:"name"`
	Key  string `koanf:"key"`
	// Models the client may ask for (public names, aliases included); empty allows all.
	Models []string `koanf:"models"`
}

// SystemPrompt configures the operator's system prompt.
type SystemPrompt struct {
	// File holds the prompt text; empty turns the feature off.
	File string `koanf:"file"`
	// Mode is append (after the client's system prompt) or overwrite.
	Mode string `koanf:"mode"`
}

// PromptLog configures the log of request bodies (prompts), redacted.
type PromptLog struct {
	// Mode is off, console or file.
	Mode string `koanf:"mode"`
	Path string `koanf:"path"`
	// MaxBytes rotates the file at this size; MaxFiles rotated files are kept.
	MaxBytes int64 `koanf:"max_bytes"`
	MaxFiles int   `koanf:"max_files"`
}

// CORS lets browser clients call the proxy.
type CORS struct {
	// Origins allowed ("*" for any, "https://*.example.com" for subdomains); empty disables CORS.
	Origins []string `koanf:"origins"`
	// Headers allowed on top of the SDKs' own ("*" echoes what the preflight asks).
	Headers []string      `koanf:"headers"`
	MaxAge  time.Duration `koanf:"max_age"`
}

// Server configures the listening side.
type Server struct {
	Host string `koanf:"host"`
	Port int    `koanf:"port"`
	// APIKeys are the keys clients must present.
	APIKeys []string `koanf:"api_keys"`
	// Auth is "on" (the default: clients need a key from api_keys or
	// clients) or "off". Off must be said: an empty api_keys alone (an
	// unset variable in PROXY_SERVER_API_KEYS=$KEY) is an error, not an
	// open proxy.
	Auth         string `koanf:"auth"`
	MaxBodyBytes int    `koanf:"max_body_bytes"`
	// ShutdownGrace is how long in-flight requests and streams may run on
	// after SIGINT/SIGTERM.
	ShutdownGrace time.Duration `koanf:"shutdown_grace"`
	// ReadTimeout bounds reading one request (headers and body).
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// IdleTimeout bounds keep-alive waits between requests.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// StreamHeartbeat is the silence after which a stream gets a comment, so
	// that a client that left is noticed; 0 disables it.
	StreamHeartbeat time.Duration `koanf:"stream_heartbeat"`
	// MaxEventBytes bounds one upstream SSE event.
	MaxEventBytes int `koanf:"max_event_bytes"`
	// MaxConns bounds concurrent client connections (0: fasthttp's default).
	MaxConns int `koanf:"max_conns"`
	// AdminAddr, if set, serves pprof on a separate listener (keep it on loopback).
	AdminAddr string `koanf:"admin_addr"`
	// CORS configures browser access.
	CORS CORS `koanf:"cors"`
	// MaxConcurrentRequests bounds requests being answered at once, streams
	// included; beyond it clients get 503 with Retry-After at once. 0: no bound.
	MaxConcurrentRequests int `koanf:"max_concurrent_requests"`
	// MaxConcurrentStreams bounds concurrent streaming answers. 0: no bound.
	MaxConcurrentStreams int `koanf:"max_concurrent_streams"`
	// MaxHeaderBytes bounds a request's header block (fasthttp's read
	// buffer); larger headers are answered 431.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// WriteTimeout bounds one write to a streaming client: a client that
	// stops reading is cut after it, so it cannot hold an upstream stream.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// Limits bound what one request body may contain and what all bodies
	// being read may take together.
	Limits Limits `koanf:"limits"`
	// AllowedHosts are names besides localhost, 127.0.0.1 and [::1] that
	// clients may use in Host while the proxy listens on loopback (a name
	// in /etc/hosts, say). Other names are refused: a web page that
	// resolves its own name to 127.0.0.1 (DNS rebinding) sends it.
	AllowedHosts []string `koanf:"allowed_hosts"`
}

// Limits bound the cost of request bodies.
type Limits struct {
	// MaxJSONValues bounds the JSON values (strings, numbers, objects, ...)
	// in one body: a parsed body costs tens of bytes per value.
	MaxJSONValues int `koanf:"max_json_values"`
	// MaxJSONDepth bounds the nesting of objects and arrays.
	MaxJSONDepth int `koanf:"max_json_depth"`
	// MaxArrayItems bounds a top-level array (messages, contents, input, tools).
	MaxArrayItems int `koanf:"max_array_items"`
	// MaxInflightBodyBytes bounds the bytes of large bodies being read and
	// handled at once (by their Content-Length); a request beyond it gets
	// 503 with Retry-After before its body is read.
	MaxInflightBodyBytes int64 `koanf:"max_inflight_body_bytes"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `koanf:"level"`
	// Format is json, console, or auto (console on a terminal).
	Format string `koanf:"format"`
}

// Provider configures one upstream.
type Provider struct {
	Name string `koanf:"name"`
	// Type is mock, openai, claude, gemini or openai-responses.
	Type    string   `koanf:"type"`
	BaseURL string   `koanf:"base_url"`
	APIKeys []string `koanf:"api_keys"`
	// Models served; "*" serves any model.
	Models   []string `koanf:"models"`
	MaxConns int      `koanf:"max_conns"`
	// PoolWait is how long a request may wait for a free connection.
	PoolWait         time.Duration `koanf:"pool_wait"`
	ConnectTimeout   time.Duration `koanf:"connect_timeout"`
	FirstByteTimeout time.Duration `koanf:"first_byte_timeout"`
	IdleTimeout      time.Duration `koanf:"idle_timeout"`
	// KeyOptions are the weights, caps and labels of APIKeys written as
	// objects, index for index (shorter than APIKeys when the tail is plain).
	KeyOptions []KeyOption `koanf:"-"`
	// Timeouts is the nested form of the timeouts, plus the total one.
	Timeouts Timeouts `koanf:"timeouts"`
	Breaker  Breaker  `koanf:"breaker"`
	// MaxConcurrent bounds this provider's in-flight upstream requests;
	// Queue more may wait up to QueueWait, the rest get 429 at once.
	MaxConcurrent int           `koanf:"max_concurrent"`
	Queue         int           `koanf:"queue"`
	QueueWait     time.Duration `koanf:"queue_wait"`
	// Fallbacks is a per-provider form of the top-level fallbacks, for the
	// models this provider serves; the top-level entry wins for a model.
	Fallbacks map[string][]string `koanf:"fallbacks"`
	// HealthCheck enables active checks of the keys.
	HealthCheck HealthCheck `koanf:"health_check"`
	// Mock configures the answers of type mock.
	Mock Mock `koanf:"mock"`
	// Headers are sent upstream on every request, e.g. OpenAI-Organization
	// or OpenAI-Project: scoping headers come from the operator, never
	// from clients.
	Headers map[string]string `koanf:"headers"`
	// ForwardHeaders names client headers that this provider may receive
	// as the client sent them (tracing, or a test upstream's scripting
	// headers). Nothing else a client sends is forwarded but the version
	// and beta headers of the upstream's own protocol.
	ForwardHeaders []string `koanf:"forward_headers"`
	// MaxResponseBytes bounds a whole (non-stream) upstream answer; a
	// larger one is answered 502 instead of being buffered. 0: 32 MiB.
	MaxResponseBytes int `koanf:"max_response_bytes"`
	// MaxResponseTime bounds reading a whole answer. 0: 15 min.
	MaxResponseTime time.Duration `koanf:"max_response_time"`
	// MaxResponseHeaderBytes is the upstream connection's read buffer, which
	// bounds the answer's header block (an answer with larger headers fails
	// as a bad gateway). Every open stream holds one. 0: 4096.
	MaxResponseHeaderBytes int `koanf:"max_response_header_bytes"`
	// Catalog overrides the model catalog for this provider's models,
	// after the top-level catalog.
	Catalog []ModelInfo `koanf:"catalog"`
	// Credentials is a subscription account file, or a folder of them
	// (type codex): the official CLI's own file works as it is.
	Credentials string `koanf:"credentials"`
	// OAuth is the sign-in service of a subscription provider; the
	// defaults are the official CLI's.
	OAuth OAuth `koanf:"oauth"`
	// Client is how the proxy names itself to a subscription backend.
	Client ClientIdent `koanf:"client"`
	// Project is the Google Cloud project of gemini-cli and antigravity
	// accounts; empty finds each account's own, as the official app does.
	Project string `koanf:"project"`
	// FallbackBaseURLs are tried in order after base_url answers 429 or
	// cannot be reached (antigravity).
	FallbackBaseURLs []string `koanf:"fallback_base_urls"`
	// QuotaURL is where a subscription account's limits are asked for
	// (codex: ChatGPT's usage endpoint, derived from base_url when empty;
	// copilot: GitHub's Copilot user endpoint).
	QuotaURL string `koanf:"quota_url"`
	// QuotaInterval is how often the accounts' limits are asked for in the
	// background (0: 5 min; negative: never).
	QuotaInterval time.Duration `koanf:"quota_interval"`
	// Copilot is the copilot type's GitHub side.
	Copilot Copilot `koanf:"copilot"`
}

// Copilot configures GitHub's token exchange for type copilot: the
// account's GitHub token is traded there for a short-lived Copilot token.
type Copilot struct {
	TokenURL string `koanf:"token_url"`
}

// OAuth configures a subscription provider's sign-in and token refresh.
type OAuth struct {
	AuthorizeURL string `koanf:"authorize_url"`
	TokenURL     string `koanf:"token_url"`
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	// DeviceURL is the device authorization endpoint (RFC 8628) of a
	// device sign-in (copilot: GitHub's).
	DeviceURL string `koanf:"device_url"`
	// RedirectPort and RedirectPath are the loopback sign-in redirect's
	// (the path defaults to the official app's).
	RedirectPort int    `koanf:"redirect_port"`
	RedirectPath string `koanf:"redirect_path"`
	// OIDCTokenURL refreshes Kiro's AWS Builder ID and IAM Identity
	// Center sign-ins (AWS SSO OIDC CreateToken); TokenURL refreshes its
	// social ones. "{region}" in either is the account's region.
	OIDCTokenURL string `koanf:"oidc_token_url"`
	// Timeout bounds one call to the token endpoint (a refresh): requests
	// that wait for a refresh wait no longer than this. 0: 15 s.
	Timeout time.Duration `koanf:"timeout"`
}

// ClientIdent is what a subscription backend is told about the client.
type ClientIdent struct {
	Originator string `koanf:"originator"`
	Version    string `koanf:"version"`
	UserAgent  string `koanf:"user_agent"`
}

// IsSubscription reports whether the provider serves signed-in accounts
// (credentials) rather than API keys.
func (p *Provider) IsSubscription() bool {
	return p.Type == TypeCodex || p.Type == TypeGeminiCLI || p.Type == TypeAntigravity || p.Type == TypeCopilot || p.Type == TypeKiro
}

// Mock configures the built-in mock provider's answer.
type Mock struct {
	// Tokens is the answer length (one chunk per token).
	Tokens int `koanf:"tokens"`
	// Delay is the pause between stream chunks.
	Delay time.Duration `koanf:"delay"`
}

// Provider types.
const (
	TypeMock   = "mock"
	TypeOpenAI = "openai"
	TypeClaude = "claude"
	TypeGemini = "gemini"
	// TypeCodex is ChatGPT sign-in accounts (Codex CLI's), on the ChatGPT
	// backend's Responses API.
	TypeCodex = "codex"
	// TypeGeminiCLI is Google sign-in accounts (Gemini CLI's), on Google's
	// Code Assist API.
	TypeGeminiCLI = "gemini-cli"
	// TypeAntigravity is Google sign-in accounts of the Antigravity app,
	// on its Code Assist endpoints.
	TypeAntigravity = "antigravity"
	// TypeCopilot is GitHub Copilot subscriptions: a GitHub token traded
	// for Copilot tokens, on the Copilot API's chat completions.
	TypeCopilot = "copilot"
	// TypeKiro is Kiro IDE accounts (social, Builder ID or IAM Identity
	// Center sign-in), on Amazon's CodeWhisperer service.
	TypeKiro            = "kiro"
	TypeOpenAIResponses = "openai-responses"
)

// ExampleKey is the client key the shipped configuration uses, so that
// `make run` works with no set-up. It is refused as soon as a real provider
// is enabled: everyone knows it.
const ExampleKey = "123456"

// Defaults returns the built-in configuration: the mock provider on
// 127.0.0.1:3000, so the proxy chats with no file and no keys.
func Defaults() Config {
	return Config{
		Cache: cacheDefaults(),
		Server: Server{
			Host:            "127.0.0.1",
			Port:            3000,
			APIKeys:         []string{ExampleKey},
			Auth:            "on",
			MaxBodyBytes:    10 << 20,
			ShutdownGrace:   30 * time.Second,
			ReadTimeout:     30 * time.Second,
			IdleTimeout:     120 * time.Second,
			StreamHeartbeat: 500 * time.Millisecond,
			MaxEventBytes:   8 << 20,
			MaxHeaderBytes:  4096,
			WriteTimeout:    30 * time.Second,
			Limits: Limits{
				MaxJSONValues:        250_000,
				MaxJSONDepth:         128,
				MaxArrayItems:        10_000,
				MaxInflightBodyBytes: 512 << 20,
			},
		},
		Log: Log{Level: "info", Format: "auto"},
		Store: Store{Driver: "sqlite", DSN: "proxy.db", UsageQueue: 10000, UsageBatch: 500, FlushInterval: time.Second,
			SyncInterval: 2 * time.Second, LimitsFail: "open", BudgetsFail: "closed"},
		Admin:     Admin{SessionTTL: 12 * time.Hour},
		PromptLog: PromptLog{Mode: "off", Path: "prompts.log", MaxBytes: 100 << 20, MaxFiles: 5},
		Providers: []Provider{{
			Name:   "mock",
			Type:   TypeMock,
			Models: []string{"mock-gpt"},
			Mock:   Mock{Tokens: 20},
		}},
	}
}

// providerDefaults fills unset provider fields.
func providerDefaults(p *Provider) {
	p.applyTimeouts()
	if p.MaxConns == 0 {
		p.MaxConns = 1024
	}
	if p.PoolWait == 0 {
		p.PoolWait = 5 * time.Second
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = 10 * time.Second
	}
	if p.FirstByteTimeout == 0 {
		// Non-stream answers arrive whole: the first byte comes when the
		// model has finished, which for long answers takes minutes.
		p.FirstByteTimeout = 300 * time.Second
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = 120 * time.Second
	}
	if p.Type == TypeMock && p.Mock.Tokens == 0 {
		p.Mock.Tokens = 20
	}
	if p.BaseURL == "" {
		switch p.Type {
		case TypeOpenAI, TypeOpenAIResponses:
			p.BaseURL = "https://api.openai.com/v1"
		case TypeClaude:
			p.BaseURL = "https://api.anthropic.com/v1"
		case TypeGemini:
			p.BaseURL = "https://generativelanguage.googleapis.com/v1beta"
		case TypeCodex:
			p.BaseURL = "https://chatgpt.com/backend-api/codex"
		case TypeGeminiCLI:
			p.BaseURL = "https://cloudcode-pa.googleapis.com"
		case TypeCopilot:
			// Used until a token answer names the account's own API host.
			p.BaseURL = "https://api.githubcopilot.com"
		case TypeKiro:
			p.BaseURL = "https://q.us-east-1.amazonaws.com"
		case TypeAntigravity:
			// Antigravity has no production host; these are the ones it
			// tries, in order.
			p.BaseURL = "https://daily-cloudcode-pa.sandbox.googleapis.com"
			if p.FallbackBaseURLs == nil {
				p.FallbackBaseURLs = []string{"https://daily-cloudcode-pa.googleapis.com", "https://autopush-cloudcode-pa.sandbox.googleapis.com"}
			}
		}
	}
	if p.IsSubscription() && p.QuotaInterval == 0 {
		p.QuotaInterval = 5 * time.Minute
	}
	if p.Type == TypeCopilot {
		if p.Copilot.TokenURL == "" {
			p.Copilot.TokenURL = "https://api.github.com/copilot_internal/v2/token"
		}
		if p.QuotaURL == "" {
			p.QuotaURL = "https://api.github.com/copilot_internal/user"
		}
	}
	if d, ok := signInDefaults[p.Type]; ok {
		fillOAuth(&p.OAuth, d.OAuth)
		if p.Client.UserAgent == "" {
			p.Client.UserAgent = d.Client.UserAgent
		}
		if p.Client.Originator == "" {
			p.Client.Originator = d.Client.Originator
		}
		if p.OAuth.OIDCTokenURL == "" {
			p.OAuth.OIDCTokenURL = d.OAuth.OIDCTokenURL
		}
	}
}

// signInDefaults are the official apps' sign-in services and public
// clients (their open source; RFC 8252: an installed app's client secret
// is not a secret). Antigravity's client is not shipped: unverified, it is
// the operator's to set.
var signInDefaults = map[string]struct {
	OAuth  OAuth
	Client ClientIdent
}{
	TypeCodex: {OAuth: OAuth{AuthorizeURL: "https://auth.openai.com/oauth/authorize", TokenURL: "https://auth.openai.com/oauth/token",
		ClientID: "app_EMoamEEZ73f0CkXaXp7hrann", RedirectPort: 1455}, Client: ClientIdent{Originator: "codex_cli_rs"}},
	TypeGeminiCLI: {OAuth: OAuth{AuthorizeURL: "https://accounts.google.com/o/oauth2/v2/auth", TokenURL: "https://oauth2.googleapis.com/token",
		ClientID:     "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
		ClientSecret: "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", RedirectPort: 8085}},
	TypeAntigravity: {OAuth: OAuth{AuthorizeURL: "https://accounts.google.com/o/oauth2/v2/auth", TokenURL: "https://oauth2.googleapis.com/token",
		RedirectPort: 8086}, Client: ClientIdent{UserAgent: "antigravity/1.104.0 darwin/arm64"}},
	// GitHub's device sign-in with the Copilot editor plugins' public app.
	TypeCopilot: {OAuth: OAuth{DeviceURL: "https://github.com/login/device/code", TokenURL: "https://github.com/login/oauth/access_token",
		ClientID: "Iv1.b507a08c87ecfe98"}},
	// Kiro refreshes social sign-ins at its own service and Builder ID /
	// IdC ones at AWS SSO OIDC; the user agent is the IDE's
	// x-amz-user-agent (the proxy appends a machine id when empty).
	TypeKiro: {OAuth: OAuth{TokenURL: "https://prod.{region}.auth.desktop.kiro.dev/refreshToken",
		OIDCTokenURL: "https://oidc.{region}.amazonaws.com/token"}},
}

// fillOAuth sets o's empty fields from d (a client secret only with its
// client id).
func fillOAuth(o *OAuth, d OAuth) {
	if o.AuthorizeURL == "" {
		o.AuthorizeURL = d.AuthorizeURL
	}
	if o.TokenURL == "" {
		o.TokenURL = d.TokenURL
	}
	if o.DeviceURL == "" {
		o.DeviceURL = d.DeviceURL
	}
	if o.ClientID == "" {
		o.ClientID, o.ClientSecret = d.ClientID, d.ClientSecret
	}
	if o.RedirectPort == 0 {
		o.RedirectPort = d.RedirectPort
	}
}

// FillDefaults gives p the defaults a provider read from a file gets
// (commands that build one without a file, such as proxy login).
func (p *Provider) FillDefaults() { providerDefaults(p) }
