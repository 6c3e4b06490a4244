package wire

import "bytes"

// CredentialRejected reports whether an upstream error answer says that the
// credential itself is bad (revoked, unknown, expired, out of funds), as
// opposed to the request being refused for its own content or headers. Only
// the first kind may take a key out of service: a 401 or 403 that a client
// can provoke (a foreign OpenAI-Organization, a browser Origin, a model the
// key may not use) must never disable a key that other clients share.
//
// The markers are the codes each vendor documents for a bad key; the check
// is deliberately narrow, and an unrecognised 401/403 counts as the
// request's own fault.
func CredentialRejected(p Protocol, status int, body []byte) bool {
	if status == 402 {
		// Payment required: the account behind the key has no funds.
		return true
	}
	var markers [][]byte
	switch p {
	case OpenAIChat, OpenAIResponses:
		if status != 401 {
			return false
		}
		markers = openAICredentialMarkers
	case Anthropic:
		if status != 401 || bytes.Contains(body, []byte("CORS")) {
			// A browser request (Origin) is refused as an authentication
			// error too, but it says nothing about the key.
			return false
		}
		markers = anthropicCredentialMarkers
	case Gemini:
		// Google answers a bad key with 400 INVALID_ARGUMENT and the reason
		// API_KEY_INVALID; a blocked or leaked key with 403.
		if status != 400 && status != 401 && status != 403 {
			return false
		}
		markers = geminiCredentialMarkers
	default:
		return false
	}
	for _, m := range markers {
		if bytes.Contains(body, m) {
			return true
		}
	}
	return false
}

var (
	openAICredentialMarkers = [][]byte{
		[]byte(`"invalid_api_key"`),
		[]byte(`Incorrect API key provided`),
		[]byte(`"account_deactivated"`),
		[]byte(`"invalid_authentication"`),
	}
	anthropicCredentialMarkers = [][]byte{
		[]byte(`invalid x-api-key`),
		[]byte(`"authentication_error"`),
	}
	geminiCredentialMarkers = [][]byte{
		[]byte(`API_KEY_INVALID`),
		[]byte(`API key not valid`),
		[]byte(`API key expired`),
		[]byte(`API_KEY_SERVICE_BLOCKED`),
		[]byte(`reported as leaked`),
	}
)
