// Package proxy is the HTTP front of the proxy: a fasthttp server that
// authenticates clients, picks a provider for each request, forwards it and
// relays the answer, streams included, in the client's own protocol.
package proxy
