// Package stream relays Server-Sent Events from an upstream body to a client,
// event by event, through a bounded buffer.
//
// The relay never holds an event back waiting for a later one: after each read
// from the upstream it writes every complete event it has, as one chunk, and
// only then reads again. A client that reads slowly blocks that write, so the
// relay stops reading the upstream and memory stays at the buffer's bound. Idle
// streams get heartbeat comments so that a client that went away is noticed and
// the upstream connection closed.
package stream
