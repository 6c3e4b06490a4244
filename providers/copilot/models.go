package copilot

import (
	"slices"
	"strings"
	"time"
)

// maxModels bounds the list kept from the service.
const maxModels = 500

// refreshModels asks the API for its models ({"data": [{"id",
// "capabilities": {"type"}}]}) and, when the configured list has "*",
// lists the chat models with it.
func (p *Provider) refreshModels(t copilotToken) {
	if !slices.Contains(p.configured, "*") {
		return
	}
	v, _, err := p.getJSON(strings.TrimRight(t.api, "/")+"/models", "Bearer "+t.token)
	if err != nil {
		return // kept as it was; tried again at the next round
	}
	out := append([]string(nil), p.configured...)
	for _, m := range v.GetArray("data") {
		id := string(m.GetStringBytes("id"))
		if id == "" || len(out) >= maxModels || slices.Contains(out, id) {
			continue
		}
		if typ := m.GetStringBytes("capabilities", "type"); len(typ) > 0 && string(typ) != "chat" {
			continue // embeddings and completions models take other endpoints
		}
		out = append(out, id)
	}
	p.models.Store(&out)
	p.modelsAt.Store(time.Now().Unix())
}
