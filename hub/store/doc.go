// Package store is the hub's durable store: every record the hub acknowledges to an agent, the
// entities those records reference, and the indexes that Query, GetProvenance and Export read.
//
// # Engine
//
// The store is embedded in the hub process, on Pebble (github.com/cockroachdb/pebble/v2), the
// LSM key-value engine CockroachDB runs on. A hub receives records in large batches from few
// writers and reads them back as time-ordered range scans, which is what an LSM tree is built
// for: a batch is one sequential write-ahead-log append, synced once, however many records it
// holds, and keys sorted by time make a query one seek and a sequential read. Pebble is written
// in Go (no cgo, nothing to install), is maintained by a company that runs it in production at
// scale, syncs batches from concurrent writers together (group commit), and has range deletion,
// which makes retention by time a single operation rather than a delete per record. The
// alternatives were weighed: bbolt (a B+tree with one writer and a copy-on-write page per change,
// much slower for many small appends), Badger (value-log design tuned for large values, with
// its own garbage collection to run), SQLite (cgo, or a slower pure-Go port, and a row store for
// what is an append-only log).
//
// # Durability
//
// Append writes an agent's batch and that agent's new position (agent, epoch, seq) in one
// Pebble batch, synced to disk before it returns: the hub acknowledges records to the agent only
// after that. A hub killed at any moment has either the whole batch and the new position or
// neither; on restart it resumes every agent after its stored position, and records an agent
// sends again at or before that position are recognised and dropped. Records are therefore
// stored once each, whatever the hub's crashes.
//
// # Layout
//
// The on-disk layout is versioned (LayoutVersion, kept under its own key); a store written with
// another layout is refused rather than misread. Keys, by their first byte:
//
//	r time agent epoch seq            the record's type, operation flags and node, then its protobuf encoding
//	a agent-id                        the agent's number, node, last position and last time
//	h address                         the agent last seen at an address the hub dials
//	n node-id                         the node's number
//	e node kind id time               a version of an entity (process, file, container, pod)
//	u node kind id                    the last time a stored record referenced the entity
//	c node parent child               a process's children
//
// Time is the record's own time in nanoseconds (its ts; the start of a flow), stored so that
// keys sort in time order, then by agent and position, so a time range is one contiguous range
// of keys. A record without a time of its own (a container, a file header) is stored at the time
// of the record its agent sent before it. Numbers stand for agent and node ids in keys to keep
// them short. Process ids in keys are the host pid then the creation time, so that the latest
// process with a pid is one seek.
//
// # Retention
//
// Records are kept for a set age and within a set size. Age is measured back from the newest
// record stored (or from now, if that is later than now): replaying a trace recorded last year
// keeps it, and live records age with the clock. When the store is larger than its size bound,
// the oldest records go first. Entities stay as long as a stored record may reference them:
// a version goes once a later one is older than the oldest record kept, and a process or file's
// last version once neither it nor any record that referenced the entity is younger than the
// oldest record kept. The last versions of containers and pods are few and are not removed.
package store
