// Package upstream is the HTTP provider: one fasthttp.HostClient pool per
// configured upstream, speaking that upstream's wire protocol and
// authentication, with connect, first-byte and idle timeouts enforced on the
// connection itself.
package upstream
