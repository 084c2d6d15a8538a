// Package capture records the node the agent runs on: it loads the eBPF probe (package bpf),
// decodes what the kernel reports, keeps the process table current and turns the events into
// SysFlow records with the flow aggregator. It is the agent's live Source.
package capture
