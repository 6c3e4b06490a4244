package kiro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/accounts"
	"github.com/llmproxy/proxy/providers/kiro/eventstream"
	"github.com/llmproxy/proxy/providers/kiro/kiromock"
	"github.com/llmproxy/proxy/providers/upstream"
)

const arn = "arn:aws:codewhisperer:us-east-1:111122223333:profile/TEST"

// fixture is a mock Kiro service and a provider on the accounts given
// as token file bodies (file name → body).
type fixture struct {
	mock *kiromock.Mock
	p    *Provider
	keys []string
	dir  string
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	m := kiromock.New()
	t.Cleanup(m.Close)
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	accts, errs := LoadAccounts(dir, RefreshConfig{SocialURL: m.URL() + "/refreshToken", OIDCURL: m.URL() + "/token"}, accounts.Options{})
	for _, err := range errs {
		t.Fatal(err)
	}
	byKey := map[string]*accounts.Account{}
	var keys []string
	for _, a := range accts {
		byKey["account:"+a.Path] = a
		keys = append(keys, "account:"+a.Path)
	}
	p, err := New(Config{HTTP: upstream.Config{Name: "kiro", BaseURL: m.URL(), Models: []string{"*"},
		ConnectTimeout: 2 * time.Second, FirstByteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}, Accounts: byKey,
		Now: func() time.Time { return time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &fixture{mock: m, p: p, keys: keys, dir: dir}
}

func socialFile(access, refresh string, exp time.Time) string {
	return `{"accessToken":"` + access + `","refreshToken":"` + refresh + `","expiresAt":"` + exp.UTC().Format(time.RFC3339) +
		`","authMethod":"social","provider":"Github","profileArn":"` + arn + `"}`
}

func live() time.Time { return time.Now().Add(2 * time.Hour) }

func (f *fixture) do(t *testing.T, key, body string, stream bool) *providers.Result {
	t.Helper()
	res, err := f.p.Do(&providers.Call{Model: "claude-sonnet-4-5", Stream: stream, Body: []byte(body), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const toolBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"system":"Be brief.",
 "tools":[{"name":"get_weather","description":"Weather of a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
 "messages":[{"role":"user","content":"Weather in Paris?"}]}`

func TestStreamToolCall(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	f.mock.Valid["at-1"] = true
	res := f.do(t, f.keys[0], toolBody, true)
	defer res.Release()
	if res.Status != 200 || res.Stream == nil {
		t.Fatalf("status %d %s", res.Status, res.Body)
	}
	b, err := io.ReadAll(res.Stream)
	if err != nil {
		t.Fatalf("%v after %s", err, b)
	}
	out := string(b)
	for _, want := range []string{
		"event: message_start\n", `"content_block":{"type":"text","text":""}`, `"text_delta","text":"Let me check."`,
		`"index":0}`, `"content_block":{"type":"tool_use","id":"tooluse_kiro_1","name":"get_weather","input":{}}`,
		`"partial_json":"{\"city\":"`, `"partial_json":"\"Paris\"}"`, `"stop_reason":"tool_use"`, "event: message_stop\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stream lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(out, "event: content_block_stop\n") != 2 {
		t.Errorf("want two blocks closed:\n%s", out)
	}
	h := f.mock.Headers[0]
	if h.Get("Authorization") != "Bearer at-1" || h.Get("x-amzn-kiro-agent-mode") != "vibe" || !strings.HasPrefix(h.Get("x-amz-user-agent"), DefaultSDKAgent+"-") {
		t.Errorf("headers %v", h)
	}
}

func TestWholeMessage(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	f.mock.Valid["at-1"] = true
	res := f.do(t, f.keys[0], toolBody, false)
	defer res.Release()
	var msg struct {
		Content []struct {
			Type, Text, ID, Name string
			Input                map[string]any
		}
		StopReason string `json:"stop_reason"`
		Usage      struct {
			In  int `json:"input_tokens"`
			Out int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal(res.Body, &msg); err != nil || res.Status != 200 {
		t.Fatalf("%d %v %s", res.Status, err, res.Body)
	}
	if len(msg.Content) != 2 || msg.Content[0].Text != "Let me check." || msg.Content[1].Name != "get_weather" ||
		msg.Content[1].Input["city"] != "Paris" || msg.StopReason != "tool_use" || msg.Usage.In == 0 || msg.Usage.Out == 0 {
		t.Fatalf("message %s", res.Body)
	}
}

// TestRequestGolden: the body sent for a tool-result turn, with the
// conversation id made constant.
func TestRequestGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/anthropic_tool_turn.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := buildRequest(in, ModelID("claude-sonnet-4-5-20250929", nil), "conv-golden", arn)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	pretty.WriteByte('\n')
	const golden = "testdata/kiro_tool_turn.golden.json"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		_ = os.WriteFile(golden, pretty.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("request differs from %s:\n%s", golden, pretty.Bytes())
	}
}

// TestRequestRules: bodies that would draw "Improperly formed request"
// are reshaped so the mock (which enforces those rules) accepts them.
func TestRequestRules(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	f.mock.Valid["at-1"] = true
	for _, tc := range []struct{ name, body string }{
		{"empty contents", `{"messages":[{"role":"user","content":""},{"role":"assistant","content":[]},{"role":"user","content":[{"type":"text","text":""}]}]}`},
		{"starts with assistant", `{"messages":[{"role":"assistant","content":"Hi"},{"role":"user","content":"Hello"}]}`},
		{"ends with assistant (prefill)", `{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Sure,"}]}`},
		{"consecutive user turns", `{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`},
		{"duplicate tool ids", `{"tools":[{"name":"t","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"go"},
			{"role":"assistant","content":[{"type":"tool_use","id":"x1","name":"t","input":{}},{"type":"tool_use","id":"x1","name":"t","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"x1","content":"ok"},{"type":"tool_result","tool_use_id":"x1","content":"ok"}]},
			{"role":"assistant","content":[{"type":"tool_use","id":"x1","name":"t","input":null}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"x1","content":""}]}]}`},
		{"orphan tool result, no tools declared", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"gone","content":[{"type":"text","text":"42"}]}]}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, f.keys[0], tc.body, false)
			defer res.Release()
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
		})
	}
	res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"http://x"}}]}]}`, false)
	if res.Status != 400 || !strings.Contains(string(res.Body), "base64") {
		t.Fatalf("image URL: %d %s", res.Status, res.Body)
	}
}

func TestModelID(t *testing.T) {
	for in, want := range map[string]string{
		"claude-sonnet-4-5": "claude-sonnet-4.5", "claude-sonnet-4-5-20250929": "claude-sonnet-4.5",
		"claude-haiku-4-5": "claude-haiku-4.5", "claude-opus-4-1": "claude-opus-4.1", "claude-sonnet-4": "claude-sonnet-4",
		"claude-sonnet-4-20250514": "claude-sonnet-4", "auto": "auto", "claude-3-7-sonnet": "claude-3-7-sonnet",
	} {
		if got := ModelID(in, nil); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	if got := ModelID("fast", map[string]string{"fast": "claude-haiku-4.5"}); got != "claude-haiku-4.5" {
		t.Errorf("override: %s", got)
	}
}

// TestBrokenStreams: a cut, a CRC mismatch or an exception frame ends
// the Anthropic stream with an error, after the events that were whole.
func TestBrokenStreams(t *testing.T) {
	for _, tc := range []struct {
		fault kiromock.Fault
		want  error
		msg   string
	}{
		{kiromock.FaultTruncate, eventstream.ErrTruncated, ""},
		{kiromock.FaultCRC, eventstream.ErrMessageCRC, ""},
		{kiromock.FaultException, nil, "ThrottlingException"},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
			f.mock.Valid["at-1"] = true
			f.mock.Fault = tc.fault
			res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, true)
			defer res.Release()
			b, err := io.ReadAll(res.Stream)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v %s", err, tc.want, tc.msg)
			}
			if strings.Contains(string(b), "message_stop") || !strings.Contains(string(b), "message_start") {
				t.Fatalf("stream before the error:\n%s", b)
			}
		})
	}
}

func TestBrokenWholeMessage(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	f.mock.Valid["at-1"] = true
	f.mock.Fault = kiromock.FaultCRC
	_, err := f.p.Do(&providers.Call{Model: "claude-sonnet-4-5", Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`), Key: f.keys[0]})
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, eventstream.ErrMessageCRC) {
		t.Fatalf("error %v", err)
	}
}

// TestExpiredTokenRefreshes: a 401 refreshes the token (social) once and
// the call goes through; the new token is saved to the IDE's file.
func TestExpiredTokenRefreshes(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-old", "rt-1", live())})
	f.mock.Expired["at-old"] = true
	f.mock.Refresh["rt-1"] = "at-new"
	res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, false)
	defer res.Release()
	if res.Status != 200 || f.mock.Refreshes != 1 || f.mock.Tokens[1] != "at-new" {
		t.Fatalf("%d %s, refreshes %d, tokens %v", res.Status, res.Body, f.mock.Refreshes, f.mock.Tokens)
	}
	saved, _ := os.ReadFile(filepath.Join(f.dir, "kiro-auth-token.json"))
	if !strings.Contains(string(saved), `"accessToken": "at-new"`) || !strings.Contains(string(saved), `"authMethod": "social"`) {
		t.Fatalf("saved %s", saved)
	}
}

// TestRevokedToken: the refresh token is revoked: the account is refused
// with an authentication error the key pool takes against the account.
func TestRevokedToken(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-old", "rt-revoked", live())})
	f.mock.Expired["at-old"] = true
	res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, true)
	defer res.Release()
	if res.Status != 401 || !strings.Contains(string(res.Body), `"authentication_error"`) || strings.Contains(string(res.Body), "rt-revoked") ||
		strings.Contains(string(res.Body), f.dir) {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if st := f.p.Accounts()[0]; st.LastError == "" {
		t.Fatalf("account status %+v", st)
	}
}

// Test403: a 403 blaming the token refreshes; one about the account
// refuses it without a refresh.
func Test403(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-unknown", "rt-1", live())})
	f.mock.Refresh["rt-1"] = "at-new"
	res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, false)
	if res.Status != 200 || f.mock.Refreshes != 1 {
		t.Fatalf("token 403: %d %s", res.Status, res.Body)
	}
	res.Release()
	f.mock.Forbidden["at-new"] = true
	res = f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, false)
	if res.Status != 401 || f.mock.Refreshes != 1 || !strings.Contains(string(res.Body), "not authorized") {
		t.Fatalf("account 403: %d %s (refreshes %d)", res.Status, res.Body, f.mock.Refreshes)
	}
}

// TestMonthlyQuota: a 402 becomes a 429 resting the account until the
// first of next month.
func TestMonthlyQuota(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	f.mock.Quota["at-1"] = true
	res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, true)
	// 2026-12-05 12:00 UTC to 2027-01-01 00:00 UTC, plus a second.
	if res.Status != 429 || string(res.RetryAfter) != "2289601" || !strings.Contains(string(res.Body), "2027-01-01T00:00:00Z") {
		t.Fatalf("%d retry-after %s %s", res.Status, res.RetryAfter, res.Body)
	}
}

// TestIdCAccount: an IAM Identity Center sign-in refreshes at OIDC with
// the client registration of the sibling file.
func TestIdCAccount(t *testing.T) {
	f := newFixture(t, map[string]string{
		"kiro-auth-token.json": `{"accessToken":"at-old","refreshToken":"rt-idc","expiresAt":"2000-01-01T00:00:00Z","authMethod":"IdC","provider":"Enterprise","region":"us-east-1","clientIdHash":"abc123"}`,
		"abc123.json":          `{"clientId":"client-id","clientSecret":"client-secret","expiresAt":"2027-01-01T00:00:00Z"}`,
		// the AWS CLI's own SSO cache, in the same folder
		"0f1e2d.json": `{"startUrl":"https://example.awsapps.com/start","region":"eu-west-1","accessToken":"aws-cli","expiresAt":"2027-01-01T00:00:00Z"}`,
	})
	if len(f.keys) != 1 {
		t.Fatalf("%d accounts, want the token file only", len(f.keys))
	}
	f.mock.Refresh["rt-idc"] = "at-idc"
	const idcArn = "arn:aws:codewhisperer:us-east-1:444455556666:profile/IDC"
	f.mock.Profiles, f.mock.RequireProfile = []string{idcArn}, true
	for i := range 2 {
		res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, false)
		if res.Status != 200 || f.mock.Tokens[i] != "at-idc" {
			t.Fatalf("%d %s tokens %v", res.Status, res.Body, f.mock.Tokens)
		}
		res.Release()
		if !strings.Contains(string(f.mock.Bodies[i]), `"profileArn":"`+idcArn+`"`) {
			t.Errorf("the discovered profile was not sent: %s", f.mock.Bodies[i])
		}
	}
	if f.mock.ProfileCalls != 1 {
		t.Errorf("profiles listed %d times, want once", f.mock.ProfileCalls)
	}
}

func TestIdCWithoutRegistration(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kiro-auth-token.json")
	_ = os.WriteFile(p, []byte(`{"accessToken":"a","refreshToken":"r","authMethod":"IdC","clientIdHash":"zzz"}`), 0o600)
	_, errs := LoadAccounts(p, RefreshConfig{}, accounts.Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "client registration") {
		t.Fatalf("errors %v", errs)
	}
}

// TestDeviceLogin: a Builder ID sign-in through the device flow (one
// pending poll) makes a token file the provider then serves with.
func TestDeviceLogin(t *testing.T) {
	m := kiromock.New()
	t.Cleanup(m.Close)
	m.Pending, m.DeviceAccess = 1, "at-device"
	var shown Prompt
	l := &DeviceLogin{OIDCTokenURL: m.URL() + "/token"}
	file, err := l.Run(context.Background(), func(p Prompt) { shown = p })
	if err != nil {
		t.Fatal(err)
	}
	if shown.UserCode != "ABCD-EFGH" || !strings.Contains(shown.VerificationURIComplete, "ABCD-EFGH") || m.Pending != 0 {
		t.Fatalf("prompt %+v, pending %d", shown, m.Pending)
	}
	dir := t.TempDir()
	path, err := SaveAccount(dir, file, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	accts, errs := LoadAccounts(dir, RefreshConfig{OIDCURL: m.URL() + "/token"}, accounts.Options{})
	if len(errs) > 0 || len(accts) != 1 {
		t.Fatalf("%v %d", errs, len(accts))
	}
	if !strings.Contains(string(file), `"authMethod": "builder-id"`) || !strings.Contains(string(file), `"clientSecret": "client-secret"`) {
		t.Fatalf("file %s", file)
	}
	// The saved account refreshes at OIDC with its own registration.
	c, err := accts[0].Refreshed("at-device")
	if err != nil || c.AccessToken != "at-device" || m.Refreshes != 1 {
		t.Fatalf("refresh: %v %+v (%d)", err, c, m.Refreshes)
	}
}

func TestDeviceLoginDenied(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/client/register":
			io.WriteString(w, `{"clientId":"c","clientSecret":"s"}`)
		case "/device_authorization":
			io.WriteString(w, `{"deviceCode":"d","userCode":"U","verificationUri":"https://x/","expiresIn":600,"interval":1}`)
		default:
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"access_denied"}`)
		}
	}))
	defer srv.Close()
	_, err := (&DeviceLogin{OIDCTokenURL: srv.URL + "/token"}).Run(context.Background(), func(Prompt) {})
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("error %v", err)
	}
}

// TestOtherOps: count_tokens is counted locally (the service has no such
// method, and nothing is sent); other operations are refused.
func TestOtherOps(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	res, err := f.p.Do(&providers.Call{Op: providers.OpCountTokens, Model: "claude-sonnet-4-5", Key: f.keys[0],
		Body: []byte(`{"messages":[{"role":"user","content":"How many tokens is this sentence?"}]}`)})
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	if err != nil || res.Status != 200 || json.Unmarshal(res.Body, &n) != nil || n.InputTokens < 5 {
		t.Fatalf("count: %v %d %s", err, res.Status, res.Body)
	}
	res, err = f.p.Do(&providers.Call{Op: providers.OpEmbed, Model: "m", Key: f.keys[0], Body: []byte(`{}`)})
	if err != nil || res.Status != 404 {
		t.Fatalf("embed: %v %+v", err, res)
	}
	if len(f.mock.Bodies) != 0 {
		t.Fatalf("the service was called: %d", len(f.mock.Bodies))
	}
}

// TestSSEAllocs: relaying one text event allocates a bounded few times
// (the decoder's and the JSON parser's buffers are reused).
func TestSSEAllocs(t *testing.T) {
	one := frames([2]string{"assistantResponseEvent", `{"content":"some words of an answer"}`})
	b := bytes.Repeat(one, 400)
	s := &sse{r: reader{dec: newDec(b)}, closeFn: func(error) error { return nil }, model: "m", id: "msg_1", count: func(o []byte) int { return len(o) }}
	p := make([]byte, 64<<10)
	if _, err := s.Read(p); err != nil { // message_start and the first event
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := s.Read(p); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.1f allocations per relayed event", allocs)
	if allocs > 3 {
		t.Fatalf("%.1f allocations per relayed event", allocs)
	}
}

// TestAnswerBound: an answer longer than max_response_bytes ends with an
// error instead of growing what is kept of it.
func TestAnswerBound(t *testing.T) {
	f := newFixture(t, map[string]string{"kiro-auth-token.json": socialFile("at-1", "rt-1", live())})
	f.mock.Valid["at-1"] = true
	f.p.cfg.HTTP.MaxResponseBytes = 200
	res := f.do(t, f.keys[0], `{"messages":[{"role":"user","content":"hi"}]}`, true)
	defer res.Release()
	if _, err := io.ReadAll(res.Stream); !errors.Is(err, ErrAnswerTooLarge) {
		t.Fatalf("error %v", err)
	}
	_, err := f.p.Do(&providers.Call{Model: "m", Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`), Key: f.keys[0]})
	if !errors.Is(err, ErrAnswerTooLarge) {
		t.Fatalf("whole: %v", err)
	}
}
