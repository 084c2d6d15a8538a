// Package fanin reads the records of many agents into one hub.
//
// For each agent address the hub dials one bidirectional AgentService stream and keeps it up:
// when it breaks, the hub dials again with exponential backoff and opens the new stream after the
// last record it holds of that agent, so nothing is read twice and nothing is skipped. Records
// arrive in agent sequence order and are appended to the hub's ring (which drops any duplicate
// by agent, epoch and sequence number); each batch is acknowledged once appended.
package fanin
