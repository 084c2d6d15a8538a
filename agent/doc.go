// Package agent runs a sysflux agent: it feeds the records of its sources (live capture, or
// SysFlow trace files replayed) into a numbered window and serves them to a hub over the
// AgentService's bidirectional stream.
//
// The agent serves; the hub dials. The hub opens the stream with the last position it holds, the
// agent sends every record after it that its window still has, then new records as they come,
// in batches. The hub acknowledges what it has taken; acknowledged records are forgotten only
// when the window needs the room, so even a hub that lost its state can be sent them again.
//
// The hub also sends its drop rules on the stream (an EdgePolicy), when it connects and when
// its rules change. The agent compiles them with the policy engine and drops the records they
// match before they enter the window, counting them in its Stats; it keeps the entities its
// records reference, for the rules to read.
package agent
