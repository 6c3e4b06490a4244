// Package wire names the client-facing and upstream wire protocols the proxy
// speaks and writes error bodies in each protocol's own shape.
package wire

import (
	"strconv"
)

// Protocol is one of the LLM API wire protocols.
type Protocol uint8

const (
	// OpenAIChat is OpenAI Chat Completions (POST /v1/chat/completions).
	OpenAIChat Protocol = iota
	// OpenAIResponses is the OpenAI Responses API (POST /v1/responses).
	OpenAIResponses
	// Anthropic is Anthropic Messages (POST /v1/messages).
	Anthropic
	// Gemini is Google's generateContent API (v1beta).
	Gemini
)

// String returns the protocol's short name, as used in logs and metrics.
func (p Protocol) String() string {
	switch p {
	case OpenAIChat:
		return "openai"
	case OpenAIResponses:
		return "openai-responses"
	case Anthropic:
		return "anthropic"
	case Gemini:
		return "gemini"
	}
	return "unknown"
}

// Kind classifies an error independently of protocol; AppendError maps it to
// each protocol's type/code vocabulary.
type Kind uint8

const (
	InvalidRequest       Kind = iota // 400
	Authentication                   // 401
	Permission                       // 403
	NotFound                         // 404 (unknown path)
	ModelNotFound                    // 404 (unknown model)
	MethodNotAllowed                 // 405
	RequestTooLarge                  // 413
	RateLimited                      // 429
	Internal                         // 500
	BadGateway                       // 502
	Unavailable                      // 503
	Timeout                          // 504
	UnsupportedMediaType             // 415
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case InvalidRequest:
		return "invalid_request"
	case Authentication:
		return "authentication"
	case Permission:
		return "permission"
	case NotFound:
		return "not_found"
	case ModelNotFound:
		return "model_not_found"
	case MethodNotAllowed:
		return "method_not_allowed"
	case RequestTooLarge:
		return "request_too_large"
	case UnsupportedMediaType:
		return "unsupported_media_type"
	case RateLimited:
		return "rate_limited"
	case BadGateway:
		return "bad_gateway"
	case Unavailable:
		return "unavailable"
	case Timeout:
		return "timeout"
	}
	return "internal"
}

// Status is the HTTP status a Kind is answered with.
func (k Kind) Status() int {
	switch k {
	case InvalidRequest:
		return 400
	case Authentication:
		return 401
	case Permission:
		return 403
	case NotFound, ModelNotFound:
		return 404
	case MethodNotAllowed:
		return 405
	case RequestTooLarge:
		return 413
	case UnsupportedMediaType:
		return 415
	case RateLimited:
		return 429
	case BadGateway:
		return 502
	case Unavailable:
		return 503
	case Timeout:
		return 504
	}
	return 500
}

// KindForStatus maps an upstream HTTP status to a Kind.
func KindForStatus(status int) Kind {
	switch {
	case status == 401:
		return Authentication
	case status == 403:
		return Permission
	case status == 404:
		return NotFound
	case status == 405:
		return MethodNotAllowed
	case status == 413:
		return RequestTooLarge
	case status == 415:
		return UnsupportedMediaType
	case status == 429:
		return RateLimited
	case status == 502:
		return BadGateway
	case status == 503 || status == 529:
		return Unavailable
	case status == 504:
		return Timeout
	case status >= 400 && status < 500:
		return InvalidRequest
	}
	return Internal
}

func (k Kind) openAI() (typ, code string) {
	switch k {
	case InvalidRequest:
		return "invalid_request_error", ""
	case Authentication:
		return "invalid_request_error", "invalid_api_key"
	case Permission:
		return "permission_error", ""
	case NotFound:
		return "invalid_request_error", "not_found"
	case ModelNotFound:
		return "invalid_request_error", "model_not_found"
	case MethodNotAllowed:
		return "invalid_request_error", "method_not_allowed"
	case RequestTooLarge:
		return "invalid_request_error", "request_too_large"
	case UnsupportedMediaType:
		return "invalid_request_error", "unsupported_media_type"
	case RateLimited:
		return "rate_limit_error", "rate_limit_exceeded"
	case BadGateway:
		return "server_error", "bad_gateway"
	case Unavailable:
		return "server_error", "service_unavailable"
	case Timeout:
		return "server_error", "timeout"
	}
	return "server_error", ""
}

func (k Kind) anthropic() string {
	switch k {
	case InvalidRequest, MethodNotAllowed, UnsupportedMediaType:
		return "invalid_request_error"
	case Authentication:
		return "authentication_error"
	case Permission:
		return "permission_error"
	case NotFound, ModelNotFound:
		return "not_found_error"
	case RequestTooLarge:
		return "request_too_large"
	case RateLimited:
		return "rate_limit_error"
	case Unavailable:
		return "overloaded_error"
	case Timeout:
		return "timeout_error"
	}
	return "api_error"
}

func (k Kind) gemini() string {
	switch k {
	case InvalidRequest, RequestTooLarge, UnsupportedMediaType:
		return "INVALID_ARGUMENT"
	case Authentication:
		return "UNAUTHENTICATED"
	case Permission:
		return "PERMISSION_DENIED"
	case NotFound, ModelNotFound, MethodNotAllowed:
		return "NOT_FOUND"
	case RateLimited:
		return "RESOURCE_EXHAUSTED"
	case Unavailable, BadGateway:
		return "UNAVAILABLE"
	case Timeout:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

// AppendError appends the JSON error body of protocol p for an error of kind k
// to dst. param names the offending request field, if any (OpenAI only carries it).
func AppendError(dst []byte, p Protocol, k Kind, message, param string) []byte {
	switch p {
	case Anthropic:
		dst = append(dst, `{"type":"error","error":{"type":`...)
		dst = AppendJSONString(dst, k.anthropic())
		dst = append(dst, `,"message":`...)
		dst = AppendJSONString(dst, message)
		return append(dst, `}}`...)
	case Gemini:
		dst = append(dst, `{"error":{"code":`...)
		dst = strconv.AppendInt(dst, int64(k.Status()), 10)
		dst = append(dst, `,"message":`...)
		dst = AppendJSONString(dst, message)
		dst = append(dst, `,"status":`...)
		dst = AppendJSONString(dst, k.gemini())
		return append(dst, `}}`...)
	}
	typ, code := k.openAI()
	dst = append(dst, `{"error":{"message":`...)
	dst = AppendJSONString(dst, message)
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, typ)
	dst = append(dst, `,"param":`...)
	if param == "" {
		dst = append(dst, `null`...)
	} else {
		dst = AppendJSONString(dst, param)
	}
	dst = append(dst, `,"code":`...)
	if code == "" {
		dst = append(dst, `null`...)
	} else {
		dst = AppendJSONString(dst, code)
	}
	return append(dst, `}}`...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a quoted JSON string, escaping what JSON requires.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
