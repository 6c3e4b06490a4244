// Package admin is the admin API (docs/admin-api.md): virtual keys, usage,
// providers, subscription sign-ins, the live request log and the running
// configuration, as JSON over HTTP on server.admin_addr — never on the
// client port. Callers authenticate with the admin key or a console
// session (password hashed with bcrypt at rest); failed attempts are
// rate-limited per address, and every state-changing call is checked
// against cross-site requests.
package admin
