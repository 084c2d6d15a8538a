// Package agent runs a sysflux agent: it feeds the records of its sources (live capture, or
// SysFlow trace files replayed) into a numbered window and serves them to a hub over the
// AgentService's bidirectional stream.
//
// The agent serves; the hub dials. The hub opens the stream with the last position it holds, the
// agent sends every record after it that its window still has, then new records as they come,
// in batches. The hub acknowledges what it has taken; acknowledged records are forgotten only
// when the window needs the room, so even a hub that lost its state can be sent them again.
package agent
