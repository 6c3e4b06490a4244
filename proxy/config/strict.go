package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// checkKeys walks a parsed YAML document against the Config type and
// reports every key the proxy does not know (with the nearest key it does
// know) and every duration written as a bare number, which would be read
// as nanoseconds: a typo or a missing unit must not be ignored silently.
func checkKeys(doc map[string]any) Problems {
	var ps Problems
	walkStruct("", doc, reflect.TypeOf(Config{}), &ps)
	return ps
}

// fileOnlyKeys are top-level keys the file reader takes out itself.
var fileOnlyKeys = map[string]bool{"fallbacks": true, "aliases": true}

var durationType = reflect.TypeOf(time.Duration(0))

func walkStruct(path string, m map[string]any, t reflect.Type, ps *Problems) {
	fields := map[string]reflect.StructField{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("koanf"); tag != "" && tag != "-" {
			fields[tag] = f
			names = append(names, tag)
		}
	}
	if path == "" {
		for k := range fileOnlyKeys {
			names = append(names, k)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		at := join(path, k)
		f, ok := fields[k]
		if !ok {
			if path == "" && fileOnlyKeys[k] {
				continue
			}
			msg := "unknown key"
			if near := nearest(k, names); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", join(path, near))
			}
			*ps = append(*ps, Problem{Key: at, Message: msg})
			continue
		}
		walkValue(at, m[k], f.Type, ps)
	}
}

func walkValue(path string, v any, t reflect.Type, ps *Problems) {
	switch {
	case t == durationType:
		switch n := v.(type) {
		case int, int64, float64, uint64:
			if fmt.Sprint(n) != "0" {
				*ps = append(*ps, Problem{Key: path, Message: fmt.Sprintf("a duration needs a unit: write %vs or %vms, not %v", n, n, n)})
			}
		}
	case t.Kind() == reflect.Struct:
		if m, ok := v.(map[string]any); ok {
			walkStruct(path, m, t, ps)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		if list, ok := v.([]any); ok {
			for i, e := range list {
				if m, ok := e.(map[string]any); ok {
					walkStruct(fmt.Sprintf("%s[%d]", path, i), m, t.Elem(), ps)
				}
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nearest returns the known name closest to k by edit distance, if it is
// close enough to be a likely typo.
func nearest(k string, names []string) string {
	best, bestD := "", len(k)/2+2
	for _, n := range names {
		if d := editDistance(strings.ToLower(k), n); d < bestD || (d == bestD && n < best) {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
