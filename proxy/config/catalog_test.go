package config

import (
	"strings"
	"testing"
)

func TestCatalogFromFile(t *testing.T) {
	c, err := Load(Source{Required: true, Path: writeFile(t, `
server: {auth: "off"}
providers:
  - name: m
    type: mock
    models: ["*"]
    catalog:
      - model: local-qwen-2.5
        max_output_tokens: 8192
        reasoning: false
catalog:
  - model: gpt-4o-mini
    max_output_tokens: 8000
    reasoning: true
    input: [text, image]
    price: {input: 0.2, output: 0.7, cached_input: 0.1}
`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Catalog) != 1 || len(c.Providers[0].Catalog) != 1 {
		t.Fatalf("catalog = %+v / %+v", c.Catalog, c.Providers[0].Catalog)
	}
	g := c.Catalog[0]
	if g.Model != "gpt-4o-mini" || g.MaxOutputTokens != 8000 || g.Reasoning == nil || !*g.Reasoning ||
		g.Price.CachedInput != 0.1 || strings.Join(g.Input, ",") != "text,image" {
		t.Errorf("global entry = %+v", g)
	}
	p := c.Providers[0].Catalog[0]
	if p.Model != "local-qwen-2.5" || p.Reasoning == nil || *p.Reasoning {
		t.Errorf("provider entry (a dotted name, reasoning false) = %+v", p)
	}
}

func TestCatalogValidation(t *testing.T) {
	for body, want := range map[string]string{
		"catalog: [{max_output_tokens: 5}]":                                "catalog[0].model: is required",
		"catalog: [{model: a, context_window: 10, max_output_tokens: 20}]": "catalog[0].max_output_tokens: 20 is more than context_window 10",
		"catalog: [{model: a, input: [smell]}]":                            `unknown modality "smell"`,
		"catalog: [{model: a, price: {input: -1}}]":                        "prices must not be negative",
		"catalog: [{model: a, max_ouput_tokens: 5}]":                       `did you mean "catalog[0].max_output_tokens"?`,
	} {
		_, err := Load(Source{Required: true, Path: writeFile(t, "server: {auth: \"off\"}\nproviders: [{name: m, type: mock, models: [x]}]\n"+body+"\n")})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}

func TestSubscriptionDefaults(t *testing.T) {
	for _, tc := range []struct {
		typ, token, client string
		port               int
	}{
		{TypeCodex, "https://auth.openai.com/oauth/token", "app_EMoamEEZ73f0CkXaXp7hrann", 1455},
		{TypeGeminiCLI, "https://oauth2.googleapis.com/token", "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com", 8085},
		{TypeAntigravity, "https://oauth2.googleapis.com/token", "", 8086},
	} {
		p := Provider{Type: tc.typ}
		p.FillDefaults()
		if p.OAuth.TokenURL != tc.token || p.OAuth.ClientID != tc.client || p.OAuth.RedirectPort != tc.port || p.BaseURL == "" {
			t.Errorf("%s defaults: %+v base %q", tc.typ, p.OAuth, p.BaseURL)
		}
	}
	p := Provider{Type: TypeGeminiCLI, OAuth: OAuth{ClientID: "mine"}}
	p.FillDefaults()
	if p.OAuth.ClientSecret != "" {
		t.Error("the default client secret went with an operator's own client id")
	}
}
