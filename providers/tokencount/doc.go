// Package tokencount counts the input tokens of a request body locally, for
// count_tokens, countTokens and responses/input_tokens calls routed to an
// upstream that cannot count in the client's protocol.
//
// Text is counted with OpenAI's o200k_base BPE (tiktoken), exact for current
// OpenAI models. Claude and Gemini use their own, unpublished tokenizers:
// their counts are o200k counts scaled by a per-family factor, and the
// expected error is stated next to each factor (family.go). Images are
// counted with each vendor's documented formula (image.go).
package tokencount
