package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable the proxy reads.
const EnvPrefix = "PROXY_"

// Source says where to load from.
type Source struct {
	// Path is the YAML file; a missing file is an error only if Required.
	Path     string
	Required bool
	// Environ lists KEY=VALUE pairs (os.Environ() in production).
	Environ []string
	// Flags, if set, override everything else where they were given.
	Flags *pflag.FlagSet
}

// Load builds the configuration from defaults, file, environment and flags,
// in that order of precedence, expands ${VAR} references and validates it.
// It returns the problems found as a *Problems error.
func Load(src Source) (*Config, error) {
	k := koanf.New(".")
	def := Defaults()
	for key, v := range flatten("", reflect.ValueOf(def)) {
		if err := k.Set(key, v); err != nil {
			return nil, fmt.Errorf("loading default %s: %w", key, err)
		}
	}
	var extras *fileExtras
	var strict Problems
	if src.Path != "" {
		if _, err := os.Stat(src.Path); err == nil || src.Required || !errors.Is(err, fs.ErrNotExist) {
			m, ex, err := readFile(src.Path)
			if err == nil {
				strict = checkKeys(m)
				err = k.Load(m, nil)
			}
			if err != nil {
				return nil, fmt.Errorf("loading %s: %w", src.Path, err)
			}
			extras = ex
		}
	}
	var unknownEnv []string
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		TransformFunc: envKeyMapper(k, &unknownEnv),
		EnvironFunc:   func() []string { return src.Environ },
	}), nil); err != nil {
		return nil, fmt.Errorf("loading environment: %w", err)
	}
	if src.Flags != nil {
		if err := k.Load(posflag.ProviderWithFlag(src.Flags, ".", k, flagKey(src.Flags)), nil); err != nil {
			return nil, fmt.Errorf("loading flags: %w", err)
		}
	}
	for _, name := range unknownEnv {
		strict = append(strict, Problem{Key: name, Message: "unknown environment variable" + envSuggestion(k, name)})
	}
	var cfg Config
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return nil, fmt.Errorf("decoding configuration: %w", err)
	}
	if !k.Exists("providers") {
		cfg.Providers = def.Providers
	}
	if extras != nil {
		cfg.Fallbacks = extras.fallbacks
		cfg.Aliases = extras.aliases
		for i := range cfg.Providers {
			if i < len(extras.keyOptions) {
				cfg.Providers[i].KeyOptions = extras.keyOptions[i]
			}
		}
	}
	lookup := envLookup(src.Environ)
	expandAll(&cfg, lookup)
	for i := range cfg.Providers {
		providerDefaults(&cfg.Providers[i])
	}
	p := append(strict, cfg.Validate()...)
	if extras != nil {
		p = append(extras.problems, p...)
	}
	if len(p) > 0 {
		return &cfg, p
	}
	return &cfg, nil
}

// envKeyMapper maps PROXY_SERVER_MAX_BODY_BYTES to server.max_body_bytes by
// matching against the known scalar keys, so that keys containing
// underscores need no special delimiter. Lists take comma-separated values.
// Unknown PROXY_* variables are collected in unknown: a misspelt variable
// must not be ignored silently.
func envKeyMapper(k *koanf.Koanf, unknown *[]string) func(string, string) (string, any) {
	known := envNames(k)
	return func(name, value string) (string, any) {
		key, ok := known[strings.TrimPrefix(name, EnvPrefix)]
		if !ok {
			*unknown = append(*unknown, name)
			return "", nil
		}
		if _, isList := k.Get(key).([]any); isList {
			return key, splitList(value)
		}
		if _, isList := k.Get(key).([]string); isList {
			return key, splitList(value)
		}
		return key, value
	}
}

// envNames maps the environment form of every scalar key (SERVER_PORT) to
// the key (server.port).
func envNames(k *koanf.Koanf) map[string]string {
	known := map[string]string{}
	for _, key := range k.Keys() {
		if strings.HasPrefix(key, "providers") {
			continue
		}
		known[strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
	}
	return known
}

// envSuggestion names the variable closest to an unknown one.
func envSuggestion(k *koanf.Koanf, name string) string {
	var names []string
	for n := range envNames(k) {
		names = append(names, strings.ToLower(n))
	}
	if near := nearest(strings.TrimPrefix(name, EnvPrefix), names); near != "" {
		return "; did you mean " + EnvPrefix + strings.ToUpper(near) + "?"
	}
	return " (providers are configured in the file)"
}

// flatten lists the scalar and list leaves of a configuration struct under
// their koanf key paths. Lists of structs (providers) are left out: they
// come from the file or the defaults as a whole.
func flatten(prefix string, v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("koanf")
		if key == "" || key == "-" {
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			for k, fv := range flatten(key, f) {
				out[k] = fv
			}
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		default:
			out[key] = f.Interface()
		}
	}
	return out
}

func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return []string{}
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// flagKey maps a flag to its configuration key; flags that are not
// configuration (like --config) are skipped.
func flagKey(fs *pflag.FlagSet) func(f *pflag.Flag) (string, any) {
	return func(f *pflag.Flag) (string, any) {
		key, ok := FlagKeys[f.Name]
		if !ok {
			return "", nil
		}
		return key, posflag.FlagVal(fs, f)
	}
}

// FlagKeys maps command-line flags to configuration keys.
var FlagKeys = map[string]string{
	"host":           "server.host",
	"port":           "server.port",
	"log-level":      "log.level",
	"log-format":     "log.format",
	"api-keys":       "server.api_keys",
	"max-body-bytes": "server.max_body_bytes",
	"shutdown-grace": "server.shutdown_grace",
}

// RegisterFlags adds the configuration flags to fs. Their defaults are
// documentation only: a flag overrides the file and environment only when given.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String("host", d.Server.Host, "listen address")
	fs.Int("port", d.Server.Port, "listen port")
	fs.String("log-level", d.Log.Level, "log level: debug, info, warn, error")
	fs.String("log-format", d.Log.Format, "log format: json, console, auto")
	fs.StringSlice("api-keys", nil, "client API keys (comma-separated); empty turns auth off")
	fs.Int("max-body-bytes", d.Server.MaxBodyBytes, "largest accepted request body")
	fs.Duration("shutdown-grace", d.Server.ShutdownGrace, "how long in-flight requests may finish after SIGTERM")
}

func envLookup(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if i := strings.IndexByte(kv, '='); i > 0 {
			m[kv[:i]] = kv[i+1:]
		}
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// FromStruct completes a configuration built in code (as the embedded load
// test does): provider defaults are filled in and the result validated.
func FromStruct(c Config) (*Config, error) {
	for i := range c.Providers {
		providerDefaults(&c.Providers[i])
	}
	if p := c.Validate(); p != nil {
		return nil, p
	}
	return &c, nil
}
