package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmproxy/proxy/proxy/admin"
	"github.com/spf13/pflag"
)

// `proxy keys` manages the virtual keys of a running proxy through its
// admin API (docs/admin-api.md): what the console does, for scripts. The
// admin key comes from PROXY_ADMIN_KEY, never from a flag (flags are
// visible to every user in /proc/PID/cmdline).

const keysUsage = `usage: proxy keys <create|list|rotate|revoke|reset> [flags]

  create --name NAME [--models a,b] [--providers p] [--rpm N] [--tpm N]
         [--budget-usd X | --budget-tokens N] [--period day|month]
         [--expires 2027-01-01T00:00:00Z|720h] [--label k=v ...]
  list [--active]
  rotate ID [--grace 10m]
  revoke ID
  reset ID

Every command takes --admin URL (default $PROXY_ADMIN_URL, else
http://127.0.0.1:9090), the admin listener (server.admin_addr), and reads
the admin key (admin.key) from PROXY_ADMIN_KEY.
`

func keysCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprint(w, keysUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, args := args[0], args[1:]
	fs := pflag.NewFlagSet("keys "+verb, pflag.ContinueOnError)
	base := os.Getenv("PROXY_ADMIN_URL")
	if base == "" {
		base = "http://127.0.0.1:9090"
	}
	adminURL := fs.String("admin", base, "the admin listener's URL")
	var (
		name, period, expires, budgetUSD, budgetTokens string
		models, providers, labels                      []string
		rpm, tpm                                       int64
		grace                                          time.Duration
		active                                         bool
	)
	switch verb {
	case "create":
		fs.StringVar(&name, "name", "", "the key's name (unique among active keys)")
		fs.StringSliceVar(&models, "models", nil, "models the key may ask for (public names, aliases included); empty: all")
		fs.StringSliceVar(&providers, "providers", nil, "providers its requests may be routed to; empty: all")
		fs.Int64Var(&rpm, "rpm", 0, "requests per minute (0: no limit)")
		fs.Int64Var(&tpm, "tpm", 0, "tokens per minute (0: no limit)")
		fs.StringVar(&budgetUSD, "budget-usd", "", "a budget in US dollars per period")
		fs.StringVar(&budgetTokens, "budget-tokens", "", "a budget in tokens per period")
		fs.StringVar(&period, "period", "month", "the budget's period: day or month")
		fs.StringVar(&expires, "expires", "", "when the key stops working: an RFC 3339 time or a duration from now")
		fs.StringArrayVar(&labels, "label", nil, "a label key=value (repeatable)")
	case "list":
		fs.BoolVar(&active, "active", false, "leave revoked and expired keys out")
	case "rotate":
		fs.DurationVar(&grace, "grace", 0, "how long the old secret keeps working")
	case "revoke", "reset":
	default:
		fmt.Fprintf(stderr, "proxy keys: unknown command %q\n\n%s", verb, keysUsage)
		return 2
	}
	if code := parseFlags(fs, args, "proxy keys "+verb+" [flags]", stdout, stderr); code >= 0 {
		return code
	}
	key := os.Getenv("PROXY_ADMIN_KEY")
	if key == "" {
		fmt.Fprintln(stderr, "proxy keys: set PROXY_ADMIN_KEY to the admin key (admin.key in the configuration)")
		return 2
	}
	c := adminClient{base: strings.TrimRight(*adminURL, "/"), key: key}
	id := ""
	if verb == "rotate" || verb == "revoke" || verb == "reset" {
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "proxy keys %s: give one key id (vk_...), as proxy keys list shows it\n", verb)
			return 2
		}
		id = url.PathEscape(fs.Arg(0))
	}
	var err error
	switch verb {
	case "create":
		var body map[string]any
		if body, err = createBody(name, models, providers, rpm, tpm, budgetUSD, budgetTokens, period, expires, labels); err != nil {
			fmt.Fprintf(stderr, "proxy keys create: %v\n", err)
			return 2
		}
		err = c.printSecret(stdout, "POST", "/api/v1/keys", body)
	case "list":
		err = c.list(stdout, active)
	case "rotate":
		body := map[string]any{}
		if grace > 0 {
			body["grace"] = grace.String()
		}
		err = c.printSecret(stdout, "POST", "/api/v1/keys/"+id+"/rotate", body)
	case "revoke":
		err = c.printKey(stdout, "DELETE", "/api/v1/keys/"+id)
	case "reset":
		err = c.printKey(stdout, "POST", "/api/v1/keys/"+id+"/reset")
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxy keys %s: %v\n", verb, err)
		return 1
	}
	return 0
}

// createBody is the POST /api/v1/keys body the flags describe.
func createBody(name string, models, providers []string, rpm, tpm int64, budgetUSD, budgetTokens, period, expires string, labels []string) (map[string]any, error) {
	if name == "" {
		return nil, fmt.Errorf("--name is required")
	}
	body := map[string]any{"name": name}
	if len(models) > 0 {
		body["models"] = models
	}
	if len(providers) > 0 {
		body["providers"] = providers
	}
	if rpm != 0 {
		body["rpm"] = rpm
	}
	if tpm != 0 {
		body["tpm"] = tpm
	}
	switch {
	case budgetUSD != "" && budgetTokens != "":
		return nil, fmt.Errorf("give --budget-usd or --budget-tokens, not both")
	case budgetUSD != "", budgetTokens != "":
		kind, amount := "usd", budgetUSD
		if budgetTokens != "" {
			kind, amount = "tokens", budgetTokens
		}
		var n float64
		if _, err := fmt.Sscan(amount, &n); err != nil || n <= 0 {
			return nil, fmt.Errorf("--budget-%s: a positive number, got %q", kind, amount)
		}
		body["budget"] = map[string]any{"kind": kind, "amount": n, "period": period}
	}
	if expires != "" {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			d, derr := time.ParseDuration(expires)
			if derr != nil || d <= 0 {
				return nil, fmt.Errorf("--expires: an RFC 3339 time or a positive duration, got %q", expires)
			}
			t = time.Now().Add(d)
		}
		body["expires_at"] = t.UTC().Format(time.RFC3339)
	}
	if len(labels) > 0 {
		m := map[string]string{}
		for _, l := range labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--label: key=value, got %q", l)
			}
			m[k] = v
		}
		body["labels"] = m
	}
	return body, nil
}

// adminClient calls the admin API with the admin key.
type adminClient struct{ base, key string }

// do sends a call and decodes its answer into out; an error answer
// becomes the API's own message.
func (c adminClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	hc := http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("the admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s (HTTP %d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
		}
		return fmt.Errorf("HTTP %d from %s", resp.StatusCode, c.base)
	}
	return json.Unmarshal(b, out)
}

// keyView is what the commands print of a key.
type keyView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Prefix    string            `json:"prefix"`
	Models    []string          `json:"models"`
	Providers []string          `json:"providers"`
	RPM       int64             `json:"rpm"`
	TPM       int64             `json:"tpm"`
	Labels    map[string]string `json:"labels"`
	Budget    *struct {
		Kind   string  `json:"kind"`
		Amount float64 `json:"amount"`
		Period string  `json:"period"`
	} `json:"budget"`
	Spent struct {
		Tokens  float64 `json:"tokens"`
		CostUSD float64 `json:"cost_usd"`
	} `json:"spent"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func (k keyView) state() string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()):
		return "expired"
	}
	return "active"
}

func (k keyView) budget() string {
	if k.Budget == nil || k.Budget.Amount == 0 {
		return "-"
	}
	if k.Budget.Kind == "usd" {
		return fmt.Sprintf("$%.2f/$%.2f per %s", k.Spent.CostUSD, k.Budget.Amount, k.Budget.Period)
	}
	return fmt.Sprintf("%.0f/%.0f tokens per %s", k.Spent.Tokens, k.Budget.Amount, k.Budget.Period)
}

// printSecret runs a call that hands a secret out and prints it first,
// alone on its line, so that a script can read it with head -1.
func (c adminClient) printSecret(w io.Writer, method, path string, body any) error {
	var out struct {
		Key  string  `json:"key"`
		Item keyView `json:"item"`
	}
	if err := c.do(method, path, body, &out); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n# id %s, name %q: the key is shown this once; the proxy keeps only its hash\n", out.Key, out.Item.ID, out.Item.Name)
	return nil
}

func (c adminClient) printKey(w io.Writer, method, path string) error {
	var k keyView
	if err := c.do(method, path, nil, &k); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s: %s, budget %s\n", k.ID, k.Name, k.state(), k.budget())
	return nil
}

func (c adminClient) list(w io.Writer, active bool) error {
	path := "/api/v1/keys"
	if active {
		path += "?active=1"
	}
	var out struct {
		Keys []keyView `json:"keys"`
	}
	if err := c.do("GET", path, nil, &out); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSTATE\tMODELS\tPROVIDERS\tRPM\tTPM\tBUDGET")
	dash := func(s []string) string {
		if len(s) == 0 {
			return "*"
		}
		return strings.Join(s, ",")
	}
	for _, k := range out.Keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", k.ID, k.Name, k.Prefix, k.state(), dash(k.Models),
			dash(k.Providers), k.RPM, k.TPM, k.budget())
	}
	_ = tw.Flush()
	return bw.Flush()
}

// hashPassword runs `proxy admin hash-password`: it reads a password from
// stdin (one line) and prints the bcrypt hash admin.password_hash takes.
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "hash-password" {
		fmt.Fprintln(stderr, "usage: proxy admin hash-password < password-file\n\nreads the console password from stdin (one line) and prints the bcrypt hash for admin.password_hash")
		return 2
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "proxy admin hash-password: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		fmt.Fprintln(stderr, "proxy admin hash-password: give a password of 8 characters or more on stdin")
		return 2
	}
	h, err := admin.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(stderr, "proxy admin hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}
