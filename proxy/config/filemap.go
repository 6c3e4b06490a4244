package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
)

// fileExtras holds what the YAML file says that koanf cannot decode as is:
// api_keys entries written as objects, and the top-level fallbacks map,
// whose keys (model names such as gemini-2.5-pro) contain the dots koanf
// would split into nested keys.
type fileExtras struct {
	keyOptions [][]KeyOption // per provider index
	fallbacks  map[string][]string
	aliases    map[string]string
	problems   Problems
}

// mapProvider feeds an already parsed map to koanf.
type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error) {
	return nil, fmt.Errorf("mapProvider has no bytes")
}
func (m mapProvider) Read() (map[string]any, error) { return m, nil }

// readFile parses the YAML file and takes out the parts koanf cannot
// decode, leaving plain secrets in api_keys.
func readFile(path string) (mapProvider, *fileExtras, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing YAML: %w", err)
	}
	ex := &fileExtras{}
	if fb, ok := m["fallbacks"]; ok {
		delete(m, "fallbacks")
		ex.fallbacks = ex.chains("fallbacks", fb)
	}
	if al, ok := m["aliases"]; ok {
		delete(m, "aliases")
		ex.aliases = ex.names("aliases", al)
	}
	if list, ok := m["providers"].([]any); ok {
		ex.keyOptions = make([][]KeyOption, len(list))
		for i, p := range list {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			keys, ok := pm["api_keys"].([]any)
			if !ok {
				continue
			}
			ex.keyOptions[i] = ex.keys(fmt.Sprintf("providers[%d].api_keys", i), keys)
		}
	}
	return m, ex, nil
}

// keys rewrites object entries of an api_keys list into their secret and
// returns their options.
func (ex *fileExtras) keys(path string, keys []any) []KeyOption {
	var opts []KeyOption
	for j, k := range keys {
		obj, ok := k.(map[string]any)
		if !ok {
			continue
		}
		at := path + "[" + strconv.Itoa(j) + "]"
		var o KeyOption
		secret := ""
		for name, v := range obj {
			switch name {
			case "key":
				secret, _ = v.(string)
			case "weight":
				o.Weight = ex.int(at+".weight", v)
			case "max_concurrent":
				o.MaxConcurrent = ex.int(at+".max_concurrent", v)
			case "label":
				o.Label = fmt.Sprint(v)
			default:
				ex.problems = append(ex.problems, Problem{Key: at + "." + name, Message: "unknown field (want key, weight, max_concurrent, label)"})
			}
		}
		if secret == "" {
			ex.problems = append(ex.problems, Problem{Key: at + ".key", Message: "required"})
		}
		keys[j] = secret
		for len(opts) < j {
			opts = append(opts, KeyOption{})
		}
		opts = append(opts, o)
	}
	return opts
}

func (ex *fileExtras) int(key string, v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		if n == float64(int(n)) {
			return int(n)
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i
		}
	}
	ex.problems = append(ex.problems, Problem{Key: key, Message: fmt.Sprintf("must be an integer, got %v", v)})
	return 0
}

// chains reads a fallbacks map: model -> list of "provider/model".
// names reads a map of model name to target, keeping dots in the names.
func (ex *fileExtras) names(key string, v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		ex.problems = append(ex.problems, Problem{Key: key, Message: "must map public model names to provider/model or model names"})
		return nil
	}
	out := make(map[string]string, len(m))
	for name, t := range m {
		target, ok := t.(string)
		if !ok {
			ex.problems = append(ex.problems, Problem{Key: key + "." + name, Message: "must be a provider/model or model name"})
			continue
		}
		out[name] = target
	}
	return out
}

func (ex *fileExtras) chains(key string, v any) map[string][]string {
	m, ok := v.(map[string]any)
	if !ok {
		ex.problems = append(ex.problems, Problem{Key: key, Message: "must map model names to lists of provider/model"})
		return nil
	}
	out := make(map[string][]string, len(m))
	for model, l := range m {
		list, ok := l.([]any)
		if !ok {
			ex.problems = append(ex.problems, Problem{Key: key + "." + model, Message: "must be a list of provider/model"})
			continue
		}
		for _, t := range list {
			out[model] = append(out[model], fmt.Sprint(t))
		}
	}
	return out
}
