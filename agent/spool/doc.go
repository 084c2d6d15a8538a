// Package spool numbers an agent's records and keeps them until a hub acknowledges them.
//
// A Window holds records in their protobuf encoding, in sequence order. It is bounded by a
// number of records and a number of bytes. Acknowledged records stay until the room is needed,
// so a hub that restarts without state can still be sent what the agent has. When the window is
// full of records no hub has acknowledged, Append either waits for an acknowledgement (a replayed
// trace, which must not lose anything) or drops the oldest unacknowledged record and counts it
// (live capture, which cannot wait).
package spool
