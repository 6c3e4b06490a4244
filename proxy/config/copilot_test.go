package config

import (
	"strings"
	"testing"
	"time"
)

func TestCopilotConfig(t *testing.T) {
	p := Provider{Type: TypeCopilot}
	p.FillDefaults()
	if p.OAuth.DeviceURL != "https://github.com/login/device/code" || p.OAuth.TokenURL != "https://github.com/login/oauth/access_token" ||
		p.OAuth.ClientID == "" || p.Copilot.TokenURL != "https://api.github.com/copilot_internal/v2/token" ||
		p.QuotaURL != "https://api.github.com/copilot_internal/user" || p.BaseURL != "https://api.githubcopilot.com" || p.QuotaInterval != 5*time.Minute {
		t.Fatalf("copilot defaults: %+v", p)
	}
	base := "server: {auth: \"off\"}\nproviders: [{name: gh, type: copilot, models: [\"*\"]"
	for body, want := range map[string]string{
		base + "}]": "required for type copilot",
		base + ", api_keys: [gho_x], copilot: {token_url: nowhere}}]": "copilot.token_url and quota_url must be http or https URLs",
		base + ", credentials: /x, quota_interval: 10s}]":             "quota_interval: at least 1m",
		base + ", api_keys: [gho_x]}]":                                "",
		base + ", credentials: /x, quota_interval: -1s}]":             "",
	} {
		_, err := Load(Source{Required: true, Path: writeFile(t, body+"\n")})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}
