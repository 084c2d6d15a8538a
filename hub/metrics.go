package hub

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// Metrics returns the hub's metrics, read from its counters at each scrape, for a Prometheus
// registry.
func (h *Hub) Metrics() prometheus.Collector { return &hubCollector{h: h} }

func hubDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName("sysflux", "hub", name), help, labels, nil)
}

var (
	descReceived = hubDesc("records_received_total", "Records received from agents, duplicates included, by record type.", "type")
	descAgentUp  = hubDesc("agent_connected", "Whether the stream to the agent is up (1) or not (0).", "address", "agent")
	descDups     = hubDesc("agent_duplicate_records_total", "Records an agent sent again after a reconnect, dropped as duplicates.", "address")
	descAgentRx  = hubDesc("agent_received_records_total", "Records received from an agent since the hub started, duplicates excluded.", "address")
	descKernel   = hubDesc("agent_kernel_dropped_records_total", "Records the agent's kernel probes could not hand over (ring buffer full), as the agent's last stats said.", "address")
	descWindow   = hubDesc("agent_window_records", "Records held in the agent's spool (window), as its last stats said.", "address")
	descWinDrop  = hubDesc("agent_window_dropped_records_total", "Records the agent dropped from its full spool before a hub acknowledged them, as its last stats said.", "address")
	descAckLag   = hubDesc("agent_unacked_records", "Records the agent produced that no hub has acknowledged yet, as its last stats said.", "address")
	descEdgeDrop = hubDesc("agent_edge_dropped_records_total", "Records the agent dropped by the hub's drop rules before sending them.", "address")

	descRingRecords = hubDesc("ring_records", "Records held in memory for subscribers.")
	descRingBytes   = hubDesc("ring_bytes", "Encoded bytes held in memory for subscribers.")
	descStoreBytes  = hubDesc("store_bytes", "Disk space the durable store uses.")
	descStoreTime   = hubDesc("store_append_seconds_total", "Time spent making batches durable before acknowledging them to agents.")
	descStoreBatch  = hubDesc("store_append_batches_total", "Batches made durable before they were acknowledged to agents.")

	descEvaluated   = hubDesc("records_evaluated_total", "Events and flows evaluated against the rules.")
	descEvalTime    = hubDesc("rule_evaluation_seconds_total", "Time spent evaluating the rules (entities kept, records decoded and matched).")
	descAlerts      = hubDesc("alerts_total", "Alerts raised by the rules.")
	descRuleDropped = hubDesc("records_dropped_by_rules_total", "Records dropped by drop rules at the hub.")
	descTagged      = hubDesc("records_tagged_total", "Records tagged by tag rules.")
	descDecodeErrs  = hubDesc("decode_errors_total", "Records the rules could not decode, passed on unchecked.")

	descSubscribers  = hubDesc("subscribers", "Subscriptions being served.")
	descSubRefused   = hubDesc("subscriptions_refused_total", "Subscriptions refused because the hub served as many as it may (--max-subscribers).")
	descSubSent      = hubDesc("subscriber_records_sent_total", "Records sent to subscribers, by record type.", "type")
	descSubLost      = hubDesc("subscriber_records_lost_total", "Records subscribers lost, each told in its stream: they fell further behind than the ring holds, or a record was too large to send.")
	descSubAlerts    = hubDesc("subscriber_alerts_sent_total", "Alerts sent to subscribers.")
	descSubAlertLost = hubDesc("subscriber_alerts_lost_total", "Alerts subscribers lost, each told in its stream.")
	descFilterRefuse = hubDesc("filters_refused_total", "Filters of Subscribe, Query and Export requests that did not compile, whatever the reason.")
	descFilterCost   = hubDesc("filters_over_cost_total", "Filters refused because evaluating them might cost more than the hub allows (--max-filter-cost).")
	descFilterStop   = hubDesc("filter_evaluations_stopped_total", "Filter evaluations stopped at run time by the cost limit; the records did not match.")

	descSent     = hubDesc("alerts_sent_total", "Alerts Falcosidekick accepted.")
	descSendDrop = hubDesc("alerts_dropped_total", "Alerts never delivered to Falcosidekick: its queue was full or retries ran out.")
	descSendFail = hubDesc("alert_send_failures_total", "Failed attempts to post an alert to Falcosidekick.")
	descQueued   = hubDesc("alerts_queued", "Alerts waiting to be posted to Falcosidekick.")
)

// hubCollector reads a hub's counters when scraped.
type hubCollector struct{ h *Hub }

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descReceived, descAgentUp, descDups, descAgentRx, descKernel, descWindow, descWinDrop, descAckLag, descEdgeDrop,
		descRingRecords, descRingBytes, descStoreBytes, descStoreTime, descStoreBatch,
		descEvaluated, descEvalTime, descAlerts, descRuleDropped, descTagged, descDecodeErrs,
		descSent, descSendDrop, descSendFail, descQueued,
		descSubscribers, descSubRefused, descSubSent, descSubLost, descSubAlerts, descSubAlertLost,
		descFilterRefuse, descFilterCost, descFilterStop,
	} {
		ch <- d
	}
	if c.h.policy != nil {
		c.h.policy.batchSeconds.Describe(ch)
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	fc := h.fanin.Counters()
	byType := func(d *prometheus.Desc, counts ring.ByType) {
		for t, n := range counts {
			if t != int(sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED) {
				counter(d, float64(n), sfavro.TypeName(sysflowv1.RecordType(t)))
			}
		}
	}
	byType(descReceived, fc.Received)
	stats := h.fanin.AgentStats()
	for _, s := range h.fanin.Status() {
		up := 0.0
		if s.GetConnected() {
			up = 1
		}
		gauge(descAgentUp, up, s.GetAddress(), s.GetAgentId())
		counter(descAgentRx, float64(s.GetReceivedRecords()), s.GetAddress())
		counter(descDups, float64(s.GetDuplicateRecords()), s.GetAddress())
		counter(descEdgeDrop, float64(s.GetEdgeDroppedRecords()), s.GetAddress())
		if st := stats[s.GetAddress()]; st != nil {
			counter(descKernel, float64(st.GetKernelDroppedRecords()), s.GetAddress())
			gauge(descWindow, float64(st.GetWindowRecords()), s.GetAddress())
			counter(descWinDrop, float64(st.GetWindowDroppedRecords()), s.GetAddress())
			gauge(descAckLag, float64(max(0, st.GetProducedRecords()-st.GetAckedSeq())), s.GetAddress())
		}
	}

	records, bytes := h.ring.Stats()
	gauge(descRingRecords, float64(records))
	gauge(descRingBytes, float64(bytes))
	if h.store != nil {
		gauge(descStoreBytes, float64(h.store.Size()))
		counter(descStoreTime, fc.StoreTime.Seconds())
		counter(descStoreBatch, float64(fc.StoreBatches))
	}

	ss := h.service.Stats()
	gauge(descSubscribers, float64(ss.Subscribers))
	counter(descSubRefused, float64(ss.SubscriptionsRefused))
	byType(descSubSent, ss.RecordsSentByType)
	counter(descSubLost, float64(ss.RecordsLost))
	counter(descSubAlerts, float64(ss.AlertsSent))
	counter(descSubAlertLost, float64(ss.AlertsLost))
	counter(descFilterRefuse, float64(ss.FiltersRefused))
	counter(descFilterCost, float64(ss.FiltersOverCost))
	counter(descFilterStop, float64(ss.FilterEvaluationsStopped))

	if p := h.policy; p != nil {
		counter(descEvaluated, float64(p.evaluated.Load()))
		counter(descEvalTime, float64(p.evalNanos.Load())/1e9)
		counter(descAlerts, float64(p.alerts.Load()))
		counter(descRuleDropped, float64(p.dropped.Load()))
		counter(descTagged, float64(p.tagged.Load()))
		counter(descDecodeErrs, float64(p.decodeErrors.Load()))
		ch <- p.batchSeconds
		if p.sender != nil {
			sent, dropped, failures := p.sender.Stats()
			counter(descSent, float64(sent))
			counter(descSendDrop, float64(dropped))
			counter(descSendFail, float64(failures))
			gauge(descQueued, float64(p.sender.Queued()))
		}
	}
}
