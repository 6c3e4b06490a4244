// Package console is the operator's web console: a few static files (HTML,
// CSS and JavaScript written by hand, no framework, no build step) embedded
// in the binary and served by the admin listener at "/". Everything the
// pages show or change goes through the admin API under /api/v1/, so the
// console holds no state and no credentials of its own: the browser keeps
// the session cookie and sends the CSRF token the login returned.
//
// The admin server mounts Handler at "/" beside the API; the client port
// never serves it.
package console
