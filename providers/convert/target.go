package convert

// Target is what the proxy knows of the upstream model a request is
// converted for (from the model catalog). The zero value knows nothing and
// changes nothing: an unknown model gets the request as the client asked.
type Target struct {
	// Known: the fields below come from the catalog.
	Known bool
	// MaxOutput is the largest answer the model gives; a larger max_tokens
	// is lowered to it (the upstream would refuse the request). 0: unknown.
	MaxOutput int
	// Reasoning: the model takes reasoning effort or a thinking budget.
	// A known model without it gets neither (gpt-4o-mini refuses
	// reasoning_effort; Claude Code asks for high effort everywhere).
	Reasoning bool
}

// fitTarget keeps r within what the target model accepts.
func fitTarget(r *request, t Target) {
	if !t.Known {
		return
	}
	if t.MaxOutput > 0 {
		r.outCap = t.MaxOutput
		if r.maxTokens > t.MaxOutput {
			r.maxTokens = t.MaxOutput
		}
	}
	if !t.Reasoning {
		r.effort, r.budget, r.hasBudget = "", 0, false
	}
}
