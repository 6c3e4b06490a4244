package accounts

import (
	"strings"
	"testing"
	"time"
)

// TestKiroFormatRoundTrip: the Kiro IDE's token file is read and written
// back in its own camelCase layout, its other fields kept.
func TestKiroFormatRoundTrip(t *testing.T) {
	body := `{"accessToken":"at","refreshToken":"rt","expiresAt":"2026-12-05T15:04:05.000Z","authMethod":"social","provider":"Github","profileArn":"arn:aws:codewhisperer:us-east-1:1:profile/P"}`
	c, err := ParseCredential([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2026, 12, 5, 15, 4, 5, 0, time.UTC)
	if c.Format != FormatKiro || c.AccessToken != "at" || c.RefreshToken != "rt" || !c.Expiry.Equal(exp) ||
		c.AccountID != "arn:aws:codewhisperer:us-east-1:1:profile/P" {
		t.Fatalf("parsed %+v", c)
	}
	c.AccessToken, c.Expiry = "at2", exp.Add(time.Hour)
	b, err := c.Marshal(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseCredential(b)
	if err != nil || again.Format != FormatKiro || again.AccessToken != "at2" || !again.Expiry.Equal(exp.Add(time.Hour)) {
		t.Fatalf("round trip: %v %+v\n%s", err, again, b)
	}
	for _, keep := range []string{`"authMethod": "social"`, `"provider": "Github"`, `"profileArn"`} {
		if !strings.Contains(string(b), keep) {
			t.Errorf("rewrite lost %s: %s", keep, b)
		}
	}
}
