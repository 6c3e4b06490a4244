// Package kiromock is a stand-in for Kiro's services, for tests: the two
// token services (Kiro's social refreshToken and AWS SSO OIDC's
// CreateToken) and CodeWhisperer's generateAssistantResponse, answering
// with AWS event-stream frames written by esencode (independent of the
// decoder under test). It checks what the real service checks that the
// proxy can get wrong: the bearer token, the body's shape (the rules
// behind "Improperly formed request"), and answers 401, 402 and 403 as
// the service does.
package kiromock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers/kiro/eventstream/esencode"
)

// Fault is a way to break the answer's stream.
type Fault string

const (
	FaultNone      Fault = ""
	FaultTruncate  Fault = "truncate"  // the last frame cut in its middle
	FaultCRC       Fault = "crc"       // a payload byte changed, CRCs kept
	FaultException Fault = "exception" // an exception frame mid-stream
	// FaultThrottled answers 200 with a ThrottlingException as its only
	// frame.
	FaultThrottled Fault = "throttled"
)

// Mock is the service. Set its fields before use; read them under Lock.
type Mock struct {
	sync.Mutex
	Server *httptest.Server
	// Valid access tokens; Expired ones answer 401, Quota ones 402,
	// Forbidden ones 403 (not about the token), and unknown ones 403
	// blaming the token, as the service does.
	Valid, Expired, Quota, Forbidden map[string]bool
	// Status answers a token's calls with that HTTP status (429, 5xx).
	Status map[string]int
	// Refresh maps a refresh token to the access token it buys; a
	// missing one is revoked (401). ClientID/Secret are what OIDC wants.
	Refresh                map[string]string
	ClientID, ClientSecret string
	Fault                  Fault
	// TokenFault breaks only the answers to one token's calls.
	TokenFault map[string]Fault
	// Profiles are what ListAvailableProfiles lists; RequireProfile
	// refuses (403) a generation without a profileArn.
	Profiles       []string
	RequireProfile bool
	ProfileCalls   int
	// Pending is how many device-code polls answer authorization_pending
	// before the sign-in is approved (with DeviceAccess, refresh token
	// "rt-device").
	Pending      int
	DeviceAccess string
	Bodies       [][]byte // generateAssistantResponse bodies
	Tokens       []string // the bearer token of each call
	Refreshes    int
	Headers      []http.Header
	// Usage is each token's credits used this month (of UsageLimit);
	// a Quota token has used them all. UsageCalls counts the asks.
	Usage      map[string]float64
	UsageLimit float64
	UsageCalls int
}

// New starts the mock on loopback.
func New() *Mock {
	m := &Mock{Valid: map[string]bool{}, Expired: map[string]bool{}, Status: map[string]int{}, TokenFault: map[string]Fault{}, Quota: map[string]bool{}, Forbidden: map[string]bool{},
		Refresh: map[string]string{}, ClientID: "client-id", ClientSecret: "client-secret",
		Usage: map[string]float64{}, UsageLimit: 1000}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /refreshToken", m.refreshSocial)
	mux.HandleFunc("POST /token", m.refreshOIDC)
	mux.HandleFunc("POST /generateAssistantResponse", m.generate)
	mux.HandleFunc("POST /{$}", m.listProfiles)
	mux.HandleFunc("GET /getUsageLimits", m.usageLimits)
	mux.HandleFunc("POST /client/register", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ClientType string
			Scopes     []string
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
		if req.ClientType != "public" || len(req.Scopes) == 0 {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		m.Lock()
		defer m.Unlock()
		_, _ = fmt.Fprintf(w, `{"clientId":%q,"clientSecret":%q,"clientSecretExpiresAt":1900000000}`, m.ClientID, m.ClientSecret)
	})
	mux.HandleFunc("POST /device_authorization", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ ClientID, ClientSecret, StartURL string }
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
		if req.ClientID == "" || req.StartURL == "" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		_, _ = w.Write([]byte(`{"deviceCode":"dev-1","userCode":"ABCD-EFGH","verificationUri":"https://device.sso.example/","verificationUriComplete":"https://device.sso.example/?user_code=ABCD-EFGH","expiresIn":600,"interval":1}`))
	})
	m.Server = httptest.NewServer(mux)
	return m
}

// Close stops the server.
func (m *Mock) Close() { m.Server.Close() }

// URL is the server's base URL.
func (m *Mock) URL() string { return m.Server.URL }

func jsonError(w http.ResponseWriter, status int, msg, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"message": msg, "reason": reason})
	_, _ = w.Write(b)
}

func (m *Mock) refreshSocial(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refreshToken"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
	m.issue(w, req.RefreshToken)
}

func (m *Mock) refreshOIDC(w http.ResponseWriter, r *http.Request) {
	var req struct{ ClientID, ClientSecret, GrantType, RefreshToken string }
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req)
	m.Lock()
	ok := req.ClientID == m.ClientID && req.ClientSecret == m.ClientSecret
	if ok && req.GrantType == "urn:ietf:params:oauth:grant-type:device_code" {
		defer m.Unlock()
		if m.Pending > 0 {
			m.Pending--
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"authorization_pending"}`))
			return
		}
		m.Valid[m.DeviceAccess] = true
		m.Refresh["rt-device"] = m.DeviceAccess
		_, _ = fmt.Fprintf(w, `{"accessToken":%q,"refreshToken":"rt-device","expiresIn":3600,"tokenType":"Bearer"}`, m.DeviceAccess)
		return
	}
	m.Unlock()
	if !ok || req.GrantType != "refresh_token" {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"bad client registration"}`))
		return
	}
	m.issue(w, req.RefreshToken)
}

func (m *Mock) issue(w http.ResponseWriter, refresh string) {
	m.Lock()
	defer m.Unlock()
	m.Refreshes++
	at, ok := m.Refresh[refresh]
	if !ok {
		jsonError(w, 401, "Invalid refresh token provided", "")
		return
	}
	m.Valid[at] = true
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"accessToken":%q,"refreshToken":%q,"expiresIn":3600}`, at, refresh)
}

func (m *Mock) listProfiles(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	m.Lock()
	defer m.Unlock()
	m.ProfileCalls++
	if r.Header.Get("X-Amz-Target") != "AmazonCodeWhispererService.ListAvailableProfiles" || !m.Valid[tok] {
		jsonError(w, 403, "not authorized", "")
		return
	}
	var list []map[string]string
	for _, arn := range m.Profiles {
		list = append(list, map[string]string{"arn": arn, "profileName": "p"})
	}
	b, _ := json.Marshal(map[string]any{"profiles": list})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write(b)
}

// usageLimits answers as getUsageLimits does: the month's credits in
// usageBreakdownList, resetting on the first of next month (unix s).
func (m *Mock) usageLimits(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	q := r.URL.Query()
	m.Lock()
	defer m.Unlock()
	m.UsageCalls++
	if q.Get("origin") != "AI_EDITOR" || q.Get("resourceType") != "AGENTIC_REQUEST" {
		jsonError(w, 400, "improper usage query", "")
		return
	}
	if !m.Valid[tok] {
		jsonError(w, 403, "The bearer token included in the request is invalid.", "")
		return
	}
	used := m.Usage[tok]
	if m.Quota[tok] {
		used = m.UsageLimit
	}
	now := time.Now().UTC()
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Unix()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"daysUntilReset":%d,"nextDateReset":%d,"subscriptionInfo":{"subscriptionTitle":"KIRO PRO","type":"Q_DEVELOPER_STANDALONE_PRO"},`+
		`"usageBreakdownList":[{"resourceType":"CREDIT","displayName":"Credit","unit":"INVOCATIONS","currency":"USD",`+
		`"currentUsage":%d,"currentUsageWithPrecision":%g,"usageLimit":%d,"usageLimitWithPrecision":%g,"nextDateReset":%d,"freeTrialInfo":null}],`+
		`"userInfo":{"email":"user@example.com"}}`,
		(reset-now.Unix())/86400, reset, int64(used), used, int64(m.UsageLimit), m.UsageLimit, reset)
}

func (m *Mock) generate(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	m.Lock()
	m.Bodies = append(m.Bodies, body)
	m.Tokens = append(m.Tokens, tok)
	m.Headers = append(m.Headers, r.Header.Clone())
	valid, expired, quota, forbidden, fault := m.Valid[tok], m.Expired[tok], m.Quota[tok], m.Forbidden[tok], m.Fault
	status := m.Status[tok]
	if f, ok := m.TokenFault[tok]; ok {
		fault = f
	}
	m.Unlock()
	switch {
	case status != 0:
		if status == 429 {
			w.Header().Set("Retry-After", "30")
		}
		jsonError(w, status, "Rate exceeded.", "")
		return
	case expired:
		jsonError(w, 401, "The security token included in the request is expired", "")
		return
	case quota:
		jsonError(w, 402, "You have reached the limit for this month.", "MONTHLY_REQUEST_COUNT")
		return
	case forbidden:
		jsonError(w, 403, "User is not authorized to make this call.", "")
		return
	case !valid:
		jsonError(w, 403, "The bearer token included in the request is invalid.", "")
		return
	}
	req, err := parse(body)
	if err != nil {
		jsonError(w, 400, "Improperly formed request.", err.Error())
		return
	}
	m.Lock()
	needProfile := m.RequireProfile
	m.Unlock()
	if needProfile && req.ProfileArn == "" {
		jsonError(w, 403, "User is not authorized: profileArn is required.", "")
		return
	}
	list := answer(req)
	if fault == FaultThrottled {
		list = [][]byte{esencode.Exception(nil, "ThrottlingException", `{"message":"Rate exceeded"}`)}
	}
	var frames []byte
	for i, f := range list {
		if fault == FaultException && i == len(list)/2 {
			frames = esencode.Exception(frames, "ThrottlingException", `{"message":"Too many requests, slow down."}`)
			break
		}
		frames = append(frames, f...)
	}
	switch fault {
	case FaultTruncate:
		frames = frames[:len(frames)-7]
	case FaultCRC:
		frames[len(frames)-10] ^= 0x20
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	// Sent in small writes, so that frames arrive split across reads.
	f, _ := w.(http.Flusher)
	for len(frames) > 0 {
		n := min(len(frames), 13)
		_, _ = w.Write(frames[:n])
		if f != nil {
			f.Flush()
		}
		frames = frames[n:]
	}
}
