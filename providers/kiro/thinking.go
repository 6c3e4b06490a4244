package kiro

import (
	"bytes"
	"strconv"
)

// The service has no thinking parameter: the Kiro IDE asks for thinking
// with tags in the prompt, and the model answers with its thinking
// between <thinking> tags at the start of its text.
const (
	thinkOpen  = "<thinking>"
	thinkClose = "</thinking>"
)

// thinkingPrefix is what goes before the current message when the
// client asked for thinking with a budget of n tokens.
func thinkingPrefix(n int) string {
	return "<thinking_mode>enabled</thinking_mode><max_thinking_length>" + strconv.Itoa(n) + "</max_thinking_length>\n\n"
}

// segment is a piece of the answer's text: thinking or not.
type segment struct {
	thinking bool
	text     []byte
}

// splitter separates the thinking at the start of an answer's text from
// the rest, across chunk boundaries: a chunk ending in what may be the
// start of a tag is held back until the next one says.
type splitter struct {
	state   uint8 // 0: undecided (the answer's start), 1: thinking, 2: text, 3: just after the thinking
	pending []byte
}

// feed takes the next text chunk and appends the segments it completes.
func (s *splitter) feed(dst []segment, chunk []byte) []segment {
	data := append(s.pending, chunk...)
	s.pending = nil
	for len(data) > 0 {
		switch s.state {
		case 0:
			trimmed := bytes.TrimLeft(data, " \t\r\n")
			switch {
			case bytes.HasPrefix(trimmed, []byte(thinkOpen)):
				s.state, data = 1, trimmed[len(thinkOpen):]
			case len(trimmed) < len(thinkOpen) && bytes.HasPrefix([]byte(thinkOpen), trimmed):
				s.pending = append([]byte(nil), data...)
				return dst
			default:
				s.state = 2
			}
		case 1:
			if i := bytes.Index(data, []byte(thinkClose)); i >= 0 {
				if i > 0 {
					dst = append(dst, segment{thinking: true, text: data[:i]})
				}
				s.state, data = 3, data[i+len(thinkClose):]
				continue
			}
			keep := partialSuffix(data, thinkClose)
			if len(data)-keep > 0 {
				dst = append(dst, segment{thinking: true, text: data[:len(data)-keep]})
			}
			s.pending = append([]byte(nil), data[len(data)-keep:]...)
			return dst
		case 3:
			// The blank line after the thinking belongs to neither.
			if data = bytes.TrimLeft(data, "\r\n"); len(data) > 0 {
				s.state = 2
			}
		default:
			return append(dst, segment{text: data})
		}
	}
	return dst
}

// flush ends the answer: held-back bytes are what they seemed not to be.
func (s *splitter) flush(dst []segment) []segment {
	if len(s.pending) == 0 {
		return dst
	}
	dst = append(dst, segment{thinking: s.state == 1, text: s.pending})
	s.pending = nil
	return dst
}

// partialSuffix is the length of the longest end of b that begins tag.
func partialSuffix(b []byte, tag string) int {
	for n := min(len(tag)-1, len(b)); n > 0; n-- {
		if bytes.HasPrefix([]byte(tag), b[len(b)-n:]) {
			return n
		}
	}
	return 0
}
