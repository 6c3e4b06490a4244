package catalog

// The built-in table: the vendors' published figures for their API models
// (OpenAI's model and pricing pages, Anthropic's models overview and
// pricing, Google's Gemini API models and pricing pages), as of late 2025.
// Prices are list prices per million tokens for the standard tier; cached
// input is the cache-read price (Gemini: the price for prompts up to 200k
// tokens). Figures change: operators override them under `catalog:` in
// config rather than wait for a release.

var (
	textImage    = []string{"text", "image"}
	textOnly     = []string{"text"}
	claudeInputs = []string{"text", "image", "pdf"}
	geminiInputs = []string{"text", "image", "audio", "video", "pdf"}
)

var builtin = []Model{
	// OpenAI
	{Name: "gpt-3.5-turbo", ContextWindow: 16385, MaxOutput: 4096, Input: textOnly, Price: Price{0.50, 1.50, 0}},
	{Name: "gpt-4-turbo", ContextWindow: 128000, MaxOutput: 4096, Input: textImage, Price: Price{10, 30, 0}},
	{Name: "gpt-4o", ContextWindow: 128000, MaxOutput: 16384, Input: textImage, Price: Price{2.50, 10, 1.25}},
	{Name: "gpt-4o-mini", ContextWindow: 128000, MaxOutput: 16384, Input: textImage, Price: Price{0.15, 0.60, 0.075}},
	{Name: "gpt-4.1", ContextWindow: 1047576, MaxOutput: 32768, Input: textImage, Price: Price{2, 8, 0.50}},
	{Name: "gpt-4.1-mini", ContextWindow: 1047576, MaxOutput: 32768, Input: textImage, Price: Price{0.40, 1.60, 0.10}},
	{Name: "gpt-4.1-nano", ContextWindow: 1047576, MaxOutput: 32768, Input: textImage, Price: Price{0.10, 0.40, 0.025}},
	{Name: "o1", ContextWindow: 200000, MaxOutput: 100000, Reasoning: true, Input: textImage, Price: Price{15, 60, 7.50}},
	{Name: "o3", ContextWindow: 200000, MaxOutput: 100000, Reasoning: true, Input: textImage, Price: Price{2, 8, 0.50}},
	{Name: "o3-mini", ContextWindow: 200000, MaxOutput: 100000, Reasoning: true, Input: textOnly, Price: Price{1.10, 4.40, 0.55}},
	{Name: "o4-mini", ContextWindow: 200000, MaxOutput: 100000, Reasoning: true, Input: textImage, Price: Price{1.10, 4.40, 0.275}},
	{Name: "gpt-5", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{1.25, 10, 0.125}},
	{Name: "gpt-5-mini", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{0.25, 2, 0.025}},
	{Name: "gpt-5-nano", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{0.05, 0.40, 0.005}},
	{Name: "gpt-5-codex", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{1.25, 10, 0.125}},
	{Name: "gpt-5.1", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{1.25, 10, 0.125}},
	{Name: "gpt-5.1-codex", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{1.25, 10, 0.125}},
	{Name: "gpt-5.1-codex-mini", ContextWindow: 400000, MaxOutput: 128000, Reasoning: true, Input: textImage, Price: Price{0.25, 2, 0.025}},

	// Anthropic
	{Name: "claude-3-haiku", ContextWindow: 200000, MaxOutput: 4096, Input: claudeInputs, Price: Price{0.25, 1.25, 0.03}},
	{Name: "claude-3-5-haiku", ContextWindow: 200000, MaxOutput: 8192, Input: claudeInputs, Price: Price{0.80, 4, 0.08}},
	{Name: "claude-3-5-sonnet", ContextWindow: 200000, MaxOutput: 8192, Input: claudeInputs, Price: Price{3, 15, 0.30}},
	{Name: "claude-3-7-sonnet", ContextWindow: 200000, MaxOutput: 64000, Reasoning: true, Input: claudeInputs, Price: Price{3, 15, 0.30}},
	{Name: "claude-sonnet-4", ContextWindow: 200000, MaxOutput: 64000, Reasoning: true, Input: claudeInputs, Price: Price{3, 15, 0.30}},
	{Name: "claude-sonnet-4-5", ContextWindow: 200000, MaxOutput: 64000, Reasoning: true, Input: claudeInputs, Price: Price{3, 15, 0.30}},
	{Name: "claude-opus-4", ContextWindow: 200000, MaxOutput: 32000, Reasoning: true, Input: claudeInputs, Price: Price{15, 75, 1.50}},
	{Name: "claude-opus-4-1", ContextWindow: 200000, MaxOutput: 32000, Reasoning: true, Input: claudeInputs, Price: Price{15, 75, 1.50}},
	{Name: "claude-opus-4-5", ContextWindow: 200000, MaxOutput: 64000, Reasoning: true, Input: claudeInputs, Price: Price{5, 25, 0.50}},
	{Name: "claude-haiku-4-5", ContextWindow: 200000, MaxOutput: 64000, Reasoning: true, Input: claudeInputs, Price: Price{1, 5, 0.10}},

	// Google
	{Name: "gemini-1.5-flash", ContextWindow: 1048576, MaxOutput: 8192, Input: geminiInputs, Price: Price{0.075, 0.30, 0.01875}},
	{Name: "gemini-1.5-pro", ContextWindow: 2097152, MaxOutput: 8192, Input: geminiInputs, Price: Price{1.25, 5, 0.3125}},
	{Name: "gemini-2.0-flash", ContextWindow: 1048576, MaxOutput: 8192, Input: geminiInputs, Price: Price{0.10, 0.40, 0.025}},
	{Name: "gemini-2.0-flash-lite", ContextWindow: 1048576, MaxOutput: 8192, Input: geminiInputs, Price: Price{0.075, 0.30, 0}},
	{Name: "gemini-2.5-pro", ContextWindow: 1048576, MaxOutput: 65536, Reasoning: true, Input: geminiInputs, Price: Price{1.25, 10, 0.125}},
	{Name: "gemini-2.5-flash", ContextWindow: 1048576, MaxOutput: 65536, Reasoning: true, Input: geminiInputs, Price: Price{0.30, 2.50, 0.03}},
	{Name: "gemini-2.5-flash-lite", ContextWindow: 1048576, MaxOutput: 65536, Reasoning: true, Input: geminiInputs, Price: Price{0.10, 0.40, 0.01}},
	{Name: "gemini-3-pro-preview", ContextWindow: 1048576, MaxOutput: 65536, Reasoning: true, Input: geminiInputs, Price: Price{2, 12, 0.20}},
}
