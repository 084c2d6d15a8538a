// Package hub wires a sysflux hub together: the fan-in that reads every agent, the ring that
// holds what they sent, and the public API that serves it.
package hub
