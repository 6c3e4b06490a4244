package faults

import (
	"strconv"

	"github.com/llmproxy/proxy/providers/wire"
)

// chunkText is the content of chunk i; a whole answer is their concatenation.
func chunkText(i int) string { return "tok" + strconv.Itoa(i) + " " }

// Content is the full assistant text for n chunks: what a client must see
// after a complete stream or in a non-streamed answer.
func Content(n int) string {
	s := ""
	for i := range n {
		s += chunkText(i)
	}
	return s
}

func appendChunkHead(dst []byte, model string) []byte {
	dst = append(dst, `data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":`...)
	return wire.AppendJSONString(dst, model)
}

// appendContentChunk appends one SSE event carrying text.
func appendContentChunk(dst []byte, model, text string) []byte {
	dst = appendChunkHead(dst, model)
	dst = append(dst, `,"choices":[{"index":0,"delta":{"content":`...)
	dst = wire.AppendJSONString(dst, text)
	return append(dst, `},"finish_reason":null}]}`+"\n\n"...)
}

// appendFinish appends the finish chunk, a usage chunk if asked, and [DONE].
func appendFinish(dst []byte, model string, n int, usage bool) []byte {
	dst = appendChunkHead(dst, model)
	dst = append(dst, `,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n"...)
	if usage {
		dst = appendChunkHead(dst, model)
		dst = append(dst, `,"choices":[],"usage":`...)
		dst = appendUsage(dst, n)
		dst = append(dst, "}\n\n"...)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

func appendUsage(dst []byte, n int) []byte {
	dst = append(dst, `{"prompt_tokens":1,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(n+1), 10)
	return append(dst, '}')
}

// appendCompletion appends a non-streamed chat.completion of n chunks' text.
func appendCompletion(dst []byte, model string, n int) []byte {
	dst = append(dst, `{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":`...)
	dst = wire.AppendJSONString(dst, model)
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	dst = wire.AppendJSONString(dst, Content(n))
	dst = append(dst, `},"finish_reason":"stop"}],"usage":`...)
	dst = appendUsage(dst, n)
	return append(dst, '}')
}

// appendHugeChunk appends one content event whose data line is at least size bytes.
func appendHugeChunk(dst []byte, model string, size int) []byte {
	dst = appendChunkHead(dst, model)
	dst = append(dst, `,"choices":[{"index":0,"delta":{"content":"`...)
	for range size {
		dst = append(dst, 'x')
	}
	return append(dst, `"},"finish_reason":null}]}`+"\n\n"...)
}

// malformedEvents is a good-looking SSE body that a strict parser must reject.
const malformedEvents = "data: {\"id\":\"chatcmpl-x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\n\n" +
	"this line is not server-sent events\n\n"
