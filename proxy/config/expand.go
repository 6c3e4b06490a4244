package config

import "strings"

// expand replaces ${NAME} and ${NAME:-default} with environment values. Only
// the braced form is recognised, so a key that happens to contain '$' is
// left alone. An unset variable without a default expands to "".
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		ref := s[i+2 : i+j]
		name, def, hasDef := strings.Cut(ref, ":-")
		if v, ok := lookup(name); ok && (v != "" || !hasDef) {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		}
		s = s[i+j+1:]
	}
}

// expandAll expands references in every string the configuration holds.
func expandAll(c *Config, lookup func(string) (string, bool)) {
	c.Server.Host = expand(c.Server.Host, lookup)
	expandList(c.Server.APIKeys, lookup)
	for i := range c.Clients {
		c.Clients[i].Key = expand(c.Clients[i].Key, lookup)
	}
	c.SystemPrompt.File = expand(c.SystemPrompt.File, lookup)
	c.Store.DSN = expand(c.Store.DSN, lookup)
	c.Store.Redis = expand(c.Store.Redis, lookup)
	c.Admin.Key = expand(c.Admin.Key, lookup)
	for i := range c.Providers {
		p := &c.Providers[i]
		p.Name = expand(p.Name, lookup)
		p.BaseURL = expand(p.BaseURL, lookup)
		expandList(p.APIKeys, lookup)
		expandList(p.Models, lookup)
	}
}

func expandList(l []string, lookup func(string) (string, bool)) {
	for i := range l {
		l[i] = expand(l[i], lookup)
	}
}
