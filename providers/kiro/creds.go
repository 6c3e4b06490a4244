package kiro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llmproxy/proxy/providers/accounts"
)

// Defaults of the token services, {region} replaced by the account's.
const (
	DefaultSocialRefreshURL = "https://prod.{region}.auth.desktop.kiro.dev/refreshToken"
	DefaultOIDCRefreshURL   = "https://oidc.{region}.amazonaws.com/token"
	DefaultRegion           = "us-east-1"
)

// RefreshConfig says where the accounts' tokens are refreshed.
type RefreshConfig struct {
	// SocialURL refreshes social-login accounts (Google, GitHub) and
	// OIDCURL AWS Builder ID / IAM Identity Center ones; "{region}" in
	// either is the account's region (its idcRegion for OIDC).
	SocialURL, OIDCURL string
	Client             *http.Client
}

// tokenFile is what the Kiro IDE keeps of a sign-in.
type tokenFile struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	AuthMethod   string `json:"authMethod"`
	Region       string `json:"region"`
	IDCRegion    string `json:"idcRegion"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	ClientIDHash string `json:"clientIdHash"`
}

// LoadAccounts opens the Kiro accounts at path: the IDE's token file, or
// a folder of them (~/.aws/sso/cache; there a token file without an
// authMethod is another AWS tool's and is left alone). A file holding only a client
// registration (clientId, clientSecret: what an IdC or Builder ID
// refresh needs) is merged into the token file beside it, as the IDE
// does, matched by its clientIdHash name, or the only one there is.
func LoadAccounts(path string, rc RefreshConfig, o accounts.Options) ([]*accounts.Account, []error) {
	path = accounts.ExpandHome(path)
	st, err := os.Stat(path)
	if err != nil {
		return nil, []error{fmt.Errorf("credentials %s: %w", path, err)}
	}
	dir, files := filepath.Dir(path), []string{path}
	if st.IsDir() {
		dir = path
		files = nil
	}
	siblings, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Strings(siblings)
	regs := map[string]tokenFile{}
	for _, f := range siblings {
		tf, err := readTokenFile(f)
		if err != nil {
			continue
		}
		switch {
		case tf.AccessToken != "" || tf.RefreshToken != "":
			// In a shared folder (~/.aws/sso/cache) other AWS tools keep
			// their own token caches; Kiro's name their sign-in method.
			if st.IsDir() && tf.AuthMethod != "" {
				files = append(files, f)
			}
		case tf.ClientID != "" && tf.ClientSecret != "":
			regs[strings.TrimSuffix(filepath.Base(f), ".json")] = tf
		}
	}
	if len(files) == 0 {
		return nil, []error{fmt.Errorf("credentials %s: no Kiro token file (accessToken, refreshToken) in the folder", path)}
	}
	var out []*accounts.Account
	var errs []error
	for _, f := range files {
		tf, err := readTokenFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("credential %s: %w", f, err))
			continue
		}
		ref, err := newRefresher(tf, regs, rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("credential %s: %w", f, err))
			continue
		}
		a, err := accounts.Open(f, ref, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errs
}

func readTokenFile(path string) (tokenFile, error) {
	var tf tokenFile
	b, err := os.ReadFile(path)
	if err != nil {
		return tf, err
	}
	if err := json.Unmarshal(b, &tf); err != nil {
		return tf, fmt.Errorf("not a JSON object: %w", err)
	}
	return tf, nil
}

// newRefresher picks the token service of the account's sign-in.
func newRefresher(tf tokenFile, regs map[string]tokenFile, rc RefreshConfig) (*refresher, error) {
	region := tf.Region
	if region == "" {
		region = DefaultRegion
	}
	hc := rc.Client
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if tf.AuthMethod == "" || strings.EqualFold(tf.AuthMethod, "social") {
		u := rc.SocialURL
		if u == "" {
			u = DefaultSocialRefreshURL
		}
		return &refresher{social: true, url: strings.ReplaceAll(u, "{region}", region), client: hc}, nil
	}
	if tf.ClientID == "" || tf.ClientSecret == "" {
		reg, ok := regs[tf.ClientIDHash]
		if !ok && len(regs) == 1 {
			for _, r := range regs {
				reg, ok = r, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("a %s sign-in needs its client registration (clientId, clientSecret): put the IDE's <clientIdHash>.json beside the token file", tf.AuthMethod)
		}
		tf.ClientID, tf.ClientSecret = reg.ClientID, reg.ClientSecret
	}
	if tf.IDCRegion != "" {
		region = tf.IDCRegion
	}
	u := rc.OIDCURL
	if u == "" {
		u = DefaultOIDCRefreshURL
	}
	return &refresher{url: strings.ReplaceAll(u, "{region}", region), clientID: tf.ClientID, clientSecret: tf.ClientSecret, client: hc}, nil
}

// refresher trades a refresh token at Kiro's social token service or at
// AWS SSO OIDC's CreateToken (grantType refresh_token); both take and
// answer JSON with camelCase names.
type refresher struct {
	social                 bool
	url                    string
	clientID, clientSecret string
	client                 *http.Client
}

const maxTokenAnswer = 1 << 20

func (r *refresher) Refresh(refreshToken string) (accounts.Tokens, error) {
	var req any = map[string]string{"refreshToken": refreshToken}
	if !r.social {
		req = map[string]string{"clientId": r.clientID, "clientSecret": r.clientSecret,
			"grantType": "refresh_token", "refreshToken": refreshToken}
	}
	body, _ := json.Marshal(req)
	res, err := r.client.Post(r.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return accounts.Tokens{}, fmt.Errorf("token service: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTokenAnswer))
	if err != nil {
		return accounts.Tokens{}, fmt.Errorf("token service: %w", err)
	}
	var ans struct {
		AccessToken  string  `json:"accessToken"`
		RefreshToken string  `json:"refreshToken"`
		ExpiresIn    float64 `json:"expiresIn"`
		Error        string  `json:"error"`
		Message      string  `json:"message"`
		Description  string  `json:"error_description"`
	}
	_ = json.Unmarshal(b, &ans)
	if res.StatusCode != http.StatusOK || ans.AccessToken == "" {
		why := strings.TrimSpace(ans.Error + " " + ans.Description + " " + ans.Message)
		if why == "" {
			why = "no accessToken in the answer"
		}
		// Never the body itself: it may echo the refresh token.
		return accounts.Tokens{}, fmt.Errorf("token service answered HTTP %d: %s", res.StatusCode, why)
	}
	exp := time.Duration(ans.ExpiresIn * float64(time.Second))
	if exp <= 0 {
		exp = time.Hour
	}
	return accounts.Tokens{AccessToken: ans.AccessToken, RefreshToken: ans.RefreshToken, ExpiresIn: exp}, nil
}
