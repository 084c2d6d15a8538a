// Package ring holds the records a hub has received, in arrival order, in a bounded in-memory
// log that any number of readers follow with their own cursor.
//
// The log is the hub's only copy of a record until a durable store takes over: the fan-in
// appends what agents send (dropping duplicates by agent, epoch and sequence number), and every
// subscription reads from it at its own pace. A reader that falls further behind than the log
// holds is told how many records it lost; nobody else waits for it.
//
// Records are kept in their protobuf encoding and routed by the envelope fields (node, agent,
// epoch, seq) and the few payload fields subscriptions filter on, which Scan reads without
// decoding the rest of the record.
package ring
