package wire

import "strings"

// MaxModelName bounds a model name; real ones are under a hundred bytes.
const MaxModelName = 256

// CheckModelName says what is wrong with a client-chosen model name, or ""
// when it is acceptable. A model name may go into an upstream URL (Gemini
// puts it in the path, with the operator's key), so the rule is strict:
// letters, digits and - _ . : @ + /, at most MaxModelName bytes, and no
// path tricks (an empty segment, "." or ".." segments, a leading slash).
// That admits every published form: gpt-4o-2024-08-06,
// ft:gpt-4o-mini:org:custom:id, claude-sonnet-4@20250514, llama3:8b,
// meta-llama/Llama-3-70b, models/gemini-2.5-pro, tunedModels/my-model.
func CheckModelName(m string) string {
	if m == "" {
		return "the model name is empty"
	}
	if len(m) > MaxModelName {
		return "the model name is longer than 256 bytes"
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '@' || c == '+' || c == '/':
		default:
			return "the model name may hold only letters, digits and - _ . : @ + /"
		}
	}
	for rest := m; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." {
			return "the model name has an empty, '.' or '..' path segment"
		}
		if !more {
			return ""
		}
		rest = after
	}
}

// GeminiModelPath is the path of a Gemini model under the API version:
// "models/NAME", or the name as given for tuned models ("tunedModels/x")
// and names already in resource form ("models/x"). ok is false for a name
// that is not a single model resource, which must never reach a URL.
func GeminiModelPath(m string) (path string, ok bool) {
	if CheckModelName(m) != "" {
		return "", false
	}
	for _, prefix := range []string{"models/", "tunedModels/"} {
		if rest, found := strings.CutPrefix(m, prefix); found {
			if strings.Contains(rest, "/") {
				return "", false
			}
			return m, true
		}
	}
	if strings.Contains(m, "/") {
		return "", false
	}
	return "models/" + m, true
}
