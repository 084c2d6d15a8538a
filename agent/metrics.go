package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Metrics returns the agent's metrics, read from its counters at each scrape, for a Prometheus
// registry.
func (a *Agent) Metrics() prometheus.Collector { return &agentCollector{a: a} }

func agentDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName("sysflux", "agent", name), help, labels, nil)
}

var (
	descProduced     = agentDesc("records_produced_total", "Records the sources produced and the window took, by record type.", "type")
	descSent         = agentDesc("records_sent_total", "Records sent to hubs, resends included.")
	descAcked        = agentDesc("acked_seq", "The highest sequence number a hub acknowledged in the current epoch.")
	descUnacked      = agentDesc("unacked_records", "Records produced that no hub has acknowledged yet (the acknowledgement lag).")
	descWindow       = agentDesc("window_records", "Records held in the window (spool), acknowledged or not.")
	descWindowBytes  = agentDesc("window_bytes", "Encoded bytes held in the window (spool).")
	descWindowDrop   = agentDesc("window_dropped_records_total", "Records dropped from the full window before a hub acknowledged them.")
	descKernelDrop   = agentDesc("kernel_dropped_records_total", "Records the kernel probes could not hand over (ring buffer full), summed over CPUs.")
	descDecodeErrs   = agentDesc("decode_errors_total", "Records the sources could not decode.")
	descSyscalls     = agentDesc("observed_syscalls_total", "System calls the probes observed and accounted for in records.")
	descEdgeDrop     = agentDesc("edge_dropped_records_total", "Records dropped by the hub's drop rules before they entered the window.")
	descEdgeVersion  = agentDesc("edge_policy_version", "The version of the hub's drop rules the agent applies; 0 before any.")
	descHubConnected = agentDesc("hub_connected", "Whether a hub's stream is being served (1) or not (0).")
)

// agentCollector reads an agent's counters when scraped.
type agentCollector struct{ a *Agent }

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descProduced, descSent, descAcked, descUnacked, descWindow, descWindowBytes, descWindowDrop,
		descKernelDrop, descDecodeErrs, descSyscalls, descEdgeDrop, descEdgeVersion, descHubConnected,
	} {
		ch <- d
	}
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	for t := range c.a.produced {
		if t != int(sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED) {
			counter(descProduced, c.a.produced[t].Load(), sfavro.TypeName(sysflowv1.RecordType(t)))
		}
	}
	s := c.a.Stats()
	counter(descSent, s.GetSentRecords())
	gauge(descAcked, s.GetAckedSeq())
	gauge(descUnacked, max(0, s.GetProducedRecords()-s.GetAckedSeq()))
	gauge(descWindow, s.GetWindowRecords())
	gauge(descWindowBytes, s.GetWindowBytes())
	counter(descWindowDrop, s.GetWindowDroppedRecords())
	counter(descKernelDrop, s.GetKernelDroppedRecords())
	counter(descDecodeErrs, s.GetDecodeErrors())
	counter(descSyscalls, s.GetObservedSyscalls())
	counter(descEdgeDrop, s.GetEdgeDroppedRecords())
	gauge(descEdgeVersion, s.GetEdgePolicyVersion())
	c.a.mu.Lock()
	connected := int64(0)
	if c.a.active != nil {
		connected = 1
	}
	c.a.mu.Unlock()
	gauge(descHubConnected, connected)
}
