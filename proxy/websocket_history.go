package proxy

// wsConversation is what a socket remembers of its last response, so that
// a response.create continuing it with previous_response_id and only new
// input can go to upstreams that keep no state: every upstream but a
// Responses one that stored the response. OpenAI's socket, too, keeps
// only the most recent response of a connection in memory.
type wsConversation struct {
	id string
	// items is the whole conversation as raw Responses input items joined
	// by commas: every input of the chain, each response's output.
	items []byte
	// upstream: a Responses upstream made and stored the response, so it
	// can resolve the id itself.
	upstream bool
	// lost: the conversation outgrew the limit and was not kept.
	lost bool
}

// commit records a finished response: the items it was given and those
// it made. A conversation larger than limit bytes could not be sent again
// anyway, so only its id is kept, to say why it cannot be continued.
func (c *wsConversation) commit(id string, input, output []byte, upstream bool, limit int) {
	c.id, c.upstream, c.lost = id, upstream, false
	out, _ := elements(output, nil)
	items := make([]byte, 0, len(input)+len(output)+1)
	items = append(items, input...)
	for _, it := range out {
		it = replayable(it)
		if it == nil {
			continue
		}
		if len(items) > 0 {
			items = append(items, ',')
		}
		items = append(items, it...)
	}
	if len(items) > limit {
		c.items, c.lost = nil, true
		return
	}
	c.items = items
}

// replayable is an output item as it can be sent back as input: without
// the id of a message or function call (an upstream asked not to store
// answers the id of an item it never kept with 404), and nil for a
// reasoning item that carries no encrypted content, which no upstream can
// take back.
func replayable(item []byte) []byte {
	ms, err := members(item, nil)
	if err != nil {
		return item
	}
	switch typ, _ := jsonString(lookup(ms, "type")); typ {
	case "reasoning":
		if v := lookup(ms, "encrypted_content"); v == nil || string(v) == "null" {
			return nil
		}
		return item
	case "message", "function_call":
		if lookup(ms, "id") == nil {
			return item
		}
		return appendObject(make([]byte, 0, len(item)), ms, func(k []byte) bool { return string(k) != "id" })
	}
	return item
}
