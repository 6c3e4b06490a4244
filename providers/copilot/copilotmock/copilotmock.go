// Package copilotmock is a loopback stand-in for GitHub's side of Copilot
// (the device sign-in, the Copilot token exchange, the user/quota
// endpoint) and for the Copilot API (chat completions, whole and
// streamed, and /models), for the tests of the copilot provider, the
// proxy and the login command. Its answers are the shapes in testdata/.
package copilotmock

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	//go:embed testdata/token.json
	tokenJSON string
	//go:embed testdata/user.json
	userJSON []byte
	//go:embed testdata/models.json
	modelsJSON []byte
	//go:embed testdata/chat.json
	chatJSON []byte
	//go:embed testdata/chat_stream.txt
	chatStream []byte
	//go:embed testdata/quota_exceeded.json
	quotaExceeded []byte
	//go:embed testdata/bad_credentials.json
	badCredentials []byte
)

// Options shape the mock.
type Options struct {
	// GitHubTokens are the GitHub tokens the token exchange accepts.
	GitHubTokens []string
	// API, when set, is the API base the token answers name (another
	// server: the proxy tests' mock upstream); else this server's /api.
	API string
	// TokenLife is the Copilot tokens' life (30 min) and RefreshIn the
	// refresh_in they are given (25 min).
	TokenLife, RefreshIn time.Duration
	// ExchangeDelay slows the token exchange (to gather concurrent callers).
	ExchangeDelay time.Duration
	// Pending is how many polls the device sign-in answers
	// authorization_pending (then one slow_down if SlowDown) before the
	// token DeviceToken.
	Pending     int
	SlowDown    bool
	DeviceToken string
	// DeviceError, if set, is the error the poll answers after Pending
	// (expired_token, access_denied) instead of a token.
	DeviceError string
}

// Request is one call the Copilot API received.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Server is the running mock.
type Server struct {
	URL  string
	opts Options
	srv  *httptest.Server

	exchanges atomic.Int64
	refusals  atomic.Int64
	issued    atomic.Int64
	polls     atomic.Int64

	mu        sync.Mutex
	github    map[string]bool   // GitHub token → accepted
	tokens    map[string]string // valid Copilot token → its GitHub token
	exhausted map[string]bool   // GitHub tokens out of premium quota
	requests  []Request
	pollTimes []time.Time
}

// Start runs the mock until the test ends.
func Start(t interface{ Cleanup(func()) }, o Options) *Server {
	if o.TokenLife == 0 {
		o.TokenLife = 30 * time.Minute
	}
	if o.RefreshIn == 0 {
		o.RefreshIn = 25 * time.Minute
	}
	s := &Server{opts: o, github: map[string]bool{}, tokens: map[string]string{}, exhausted: map[string]bool{}}
	for _, g := range o.GitHubTokens {
		s.github[g] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/device/code", s.deviceCode)
	mux.HandleFunc("POST /login/oauth/access_token", s.deviceToken)
	mux.HandleFunc("GET /copilot_internal/v2/token", s.exchange)
	mux.HandleFunc("GET /copilot_internal/user", s.user)
	mux.HandleFunc("POST /api/chat/completions", s.chat)
	mux.HandleFunc("GET /api/models", s.models)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Exchanges counts the token exchanges answered with a token.
func (s *Server) Exchanges() int64 { return s.exchanges.Load() }

// QuotaRefusals counts the chat requests answered 402 quota_exceeded.
func (s *Server) QuotaRefusals() int64 { return s.refusals.Load() }

// Requests are the calls the Copilot API received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// PollTimes are when the device token endpoint was polled.
func (s *Server) PollTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.pollTimes...)
}

// ExpireAll makes every Copilot token issued so far invalid (the API
// answers 401 to them), as an expired one is.
func (s *Server) ExpireAll() {
	s.mu.Lock()
	s.tokens = map[string]string{}
	s.mu.Unlock()
}

// Revoke makes GitHub refuse a GitHub token, and the Copilot tokens traded
// for it.
func (s *Server) Revoke(gh string) {
	s.mu.Lock()
	delete(s.github, gh)
	for c, g := range s.tokens {
		if g == gh {
			delete(s.tokens, c)
		}
	}
	s.mu.Unlock()
}

// Exhaust puts a GitHub token's account out of premium quota: the API
// answers 402 quota_exceeded, the user endpoint shows nothing left.
func (s *Server) Exhaust(gh string) {
	s.mu.Lock()
	s.exhausted[gh] = true
	s.mu.Unlock()
}

func githubToken(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "token ")
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.opts.ExchangeDelay)
	gh := githubToken(r)
	s.mu.Lock()
	ok := s.github[gh]
	s.mu.Unlock()
	if !ok || !strings.HasPrefix(r.Header.Get("Authorization"), "token ") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(badCredentials)
		return
	}
	tok := "cop-" + strconv.FormatInt(s.issued.Add(1), 10)
	api := s.opts.API
	if api == "" {
		api = s.URL + "/api"
	}
	s.mu.Lock()
	s.tokens[tok] = gh
	s.mu.Unlock()
	s.exchanges.Add(1)
	body := strings.NewReplacer("{{API}}", api, "{{TOKEN}}", tok,
		"{{EXPIRES}}", strconv.FormatInt(time.Now().Add(s.opts.TokenLife).Unix(), 10),
		"{{REFRESH_IN}}", strconv.FormatInt(int64(s.opts.RefreshIn/time.Second), 10)).Replace(tokenJSON)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

// Valid reports whether the mock issued copilotToken and it still holds.
func (s *Server) Valid(copilotToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[copilotToken] != ""
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	gh := githubToken(r)
	s.mu.Lock()
	ok, out := s.github[gh], s.exhausted[gh]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(badCredentials)
		return
	}
	b := userJSON
	if out {
		b = bytes.Replace(b, []byte(`"percent_remaining":41.0,"quota_id":"premium_interactions","quota_remaining":123,"remaining":123`),
			[]byte(`"percent_remaining":0,"quota_id":"premium_interactions","quota_remaining":0,"remaining":0`), 1)
	}
	w.Write(b)
}

// copilotAuth checks the API's bearer token and the editor headers the
// API insists on; it answers itself when they fail.
func (s *Server) copilotAuth(w http.ResponseWriter, r *http.Request) (gh string, ok bool) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	gh = s.tokens[tok]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case gh == "":
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"unauthorized: token expired","code":"unauthorized"}}`)
		return "", false
	case r.Header.Get("Editor-Version") == "" || r.Header.Get("Copilot-Integration-Id") == "":
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"missing Editor-Version header for IDE auth","code":"bad_request"}}`)
		return "", false
	}
	return gh, true
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	gh, ok := s.copilotAuth(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	out := s.exhausted[gh]
	s.mu.Unlock()
	if out {
		s.refusals.Add(1)
		w.WriteHeader(http.StatusPaymentRequired)
		w.Write(quotaExceeded)
		return
	}
	var req struct {
		Stream bool `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":%q,"code":"invalid_request_body"}}`, err.Error())
		return
	}
	if !req.Stream {
		w.Write(chatJSON)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	for ev := range bytes.SplitAfterSeq(chatStream, []byte("\n\n")) {
		w.Write(ev)
		if fl != nil {
			fl.Flush()
		}
	}
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.copilotAuth(w, r); !ok {
		return
	}
	w.Write(modelsJSON)
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Form.Get("client_id") == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"unauthorized_client","error_description":"no client_id"}`)
		return
	}
	fmt.Fprintf(w, `{"device_code":"dev-123","user_code":"WDJB-MJHT","verification_uri":"%s/login/device","expires_in":900,"interval":1}`, s.URL)
}

func (s *Server) deviceToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	s.pollTimes = append(s.pollTimes, time.Now())
	s.mu.Unlock()
	n := int(s.polls.Add(1))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Form.Get("device_code") != "dev-123" || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
		io.WriteString(w, `{"error":"incorrect_device_code","error_description":"The device_code provided is not valid."}`)
	case n <= s.opts.Pending:
		io.WriteString(w, `{"error":"authorization_pending","error_description":"The authorization request is still pending."}`)
	case s.opts.DeviceError != "":
		fmt.Fprintf(w, `{"error":%q,"error_description":"as the test says"}`, s.opts.DeviceError)
	case s.opts.SlowDown && n == s.opts.Pending+1:
		io.WriteString(w, `{"error":"slow_down","error_description":"Too many requests have been made in the same timeframe.","interval":6}`)
	default:
		s.mu.Lock()
		s.github[s.opts.DeviceToken] = true
		s.mu.Unlock()
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","scope":"read:user"}`, s.opts.DeviceToken)
	}
}
