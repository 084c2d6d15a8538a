// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/flow"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func TestPackIPv4(t *testing.T) {
	tests := []struct {
		addr string
		want int32
	}{
		{"127.0.0.1", 16777343},
		{"0.0.0.0", 0},
		{"10.0.0.1", 0x0100000a},
		{"192.168.1.2", 0x0201a8c0},
		{"255.255.255.255", -1},
		{"1.2.3.200", -0x37fcfdff}, // 0xc8030201 as an int32
		{"::ffff:127.0.0.1", 16777343},
		{"::1", 0},
	}
	for _, tt := range tests {
		if got := flow.PackIPv4(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("PackIPv4(%s) = %d, want %d", tt.addr, got, tt.want)
		}
	}
	if got := flow.PackIPv4(netip.Addr{}); got != 0 {
		t.Errorf("PackIPv4(invalid) = %d, want 0", got)
	}
}

func TestNetworkFlow(t *testing.T) {
	ip6 := func(s string) []byte {
		a := netip.MustParseAddr(s).As16()
		return a[:]
	}
	tests := []struct {
		name          string
		kind          flow.Kind
		local, remote string
		proto         int32
		ret           int64
		want          *sysflowv1.NetworkFlow // without proc_oid, ts, tid, fd, end_ts, counts
	}{
		{
			name: "connect IPv4", kind: flow.KindConnect, local: "127.0.0.1:40000", remote: "127.0.0.1:80", proto: 6,
			want: &sysflowv1.NetworkFlow{OpFlags: opConn | opRead | opWrite | opClose,
				Sip: 16777343, Sport: 40000, Dip: 16777343, Dport: 80, Proto: 6},
		},
		{
			name: "connect in progress", kind: flow.KindConnect, local: "10.0.0.1:40000", remote: "192.168.1.2:443",
			proto: 6, ret: -115,
			want: &sysflowv1.NetworkFlow{OpFlags: opConn | opRead | opWrite | opClose,
				Sip: 0x0100000a, Sport: 40000, Dip: 0x0201a8c0, Dport: 443, Proto: 6},
		},
		{
			name: "accept IPv4: the client is the source", kind: flow.KindAccept, local: "10.0.0.1:80",
			remote: "192.168.1.2:51000", proto: 6,
			want: &sysflowv1.NetworkFlow{OpFlags: opAccept | opRead | opWrite | opClose,
				Sip: 0x0201a8c0, Sport: 51000, Dip: 0x0100000a, Dport: 80, Proto: 6},
		},
		{
			name: "connect IPv4-mapped", kind: flow.KindConnect, local: "[::ffff:127.0.0.1]:40000",
			remote: "[::ffff:127.0.0.1]:53", proto: 17,
			want: &sysflowv1.NetworkFlow{OpFlags: opConn | opRead | opWrite | opClose,
				Sip: 16777343, Sport: 40000, Dip: 16777343, Dport: 53, Proto: 17},
		},
		{
			name: "connect IPv6", kind: flow.KindConnect, local: "[2001:db8::1]:40000", remote: "[2001:db8::2]:443",
			proto: 6,
			want: &sysflowv1.NetworkFlow{OpFlags: opConn | opRead | opWrite | opClose,
				Sport: 40000, Dport: 443, Proto: 6, Sip6: ip6("2001:db8::1"), Dip6: ip6("2001:db8::2")},
		},
		{
			name: "accept IPv6", kind: flow.KindAccept, local: "[::1]:80", remote: "[::1]:51000", proto: 6,
			want: &sysflowv1.NetworkFlow{OpFlags: opAccept | opRead | opWrite | opClose,
				Sport: 51000, Dport: 80, Proto: 6, Sip6: ip6("::1"), Dip6: ip6("::1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
			ev := flow.Event{Kind: tt.kind, Time: t0, PID: pid, TID: pid + 1, StartTime: start, FD: 7, Ret: tt.ret,
				Proto: tt.proto, Local: netip.MustParseAddrPort(tt.local), Remote: netip.MustParseAddrPort(tt.remote)}
			handle(t, a, ev,
				countersEv(t0+sec, pid, 7, 2, 200, 1, 50),
				closeEv(t0+2*sec, pid, 7, 3, 300, 1, 50))
			recs := s.take()
			checkReferences(t, recs)
			if diff := cmp.Diff([]string{"process", "network_flow"}, kinds(recs)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
			want := tt.want
			want.ProcOid, want.Ts, want.Tid, want.Fd, want.EndTs = oid(pid, start), t0, int64(pid+1), 7, t0+2*sec
			want.NumRRecvOps, want.NumRRecvBytes, want.NumWSendOps, want.NumWSendBytes = 3, 300, 1, 50
			if diff := cmp.Diff(want, recs[1].GetNetworkFlow(), protocmp.Transform()); diff != "" {
				t.Errorf("network flow (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNetworkFlowAcceptOnReturnedFD(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		flow.Event{Kind: flow.KindAccept, Time: t0, PID: pid, TID: pid, FD: 3, Ret: 9, Proto: 6,
			Local: netip.MustParseAddrPort("10.0.0.1:80"), Remote: netip.MustParseAddrPort("10.0.0.2:5000")},
		closeEv(t0+sec, pid, 9, 0, 0, 0, 0),
	)
	recs := s.take()
	if len(recs) != 2 || recs[1].GetNetworkFlow().GetFd() != 9 {
		t.Errorf("records = %v, want a network flow on fd 9 (accept's return value)", recs)
	}
}

func TestNetworkFlowReconnect(t *testing.T) {
	connect := func(at int64, remote string) flow.Event {
		return flow.Event{Kind: flow.KindConnect, Time: at, PID: pid, TID: pid, FD: 5, Proto: 17,
			Local: netip.MustParseAddrPort("10.0.0.1:6000"), Remote: netip.MustParseAddrPort(remote)}
	}
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		connect(t0, "10.0.0.53:53"),
		countersEv(t0+sec, pid, 5, 1, 100, 1, 40),
		connect(t0+2*sec, "10.0.0.53:53"), // the same: one flow
		connect(t0+3*sec, "10.0.0.54:53"), // another peer: a new flow, the socket's counters go on
		closeEv(t0+4*sec, pid, 5, 3, 300, 2, 80),
	)
	var got []*sysflowv1.NetworkFlow
	for _, r := range s.take() {
		if nf := r.GetNetworkFlow(); nf != nil {
			got = append(got, nf)
		}
	}
	if len(got) != 2 {
		t.Fatalf("network flows = %v, want 2", got)
	}
	if got[0].GetOpFlags() != opConn|opRead|opWrite || got[0].GetNumRRecvOps() != 1 || got[0].GetDport() != 53 {
		t.Errorf("first flow = %v, want CONNECT|READ_RECV|WRITE_SEND with 1 read", got[0])
	}
	if got[1].GetOpFlags() != opConn|opRead|opWrite|opClose || got[1].GetNumRRecvOps() != 2 ||
		got[1].GetNumWSendBytes() != 40 || got[1].GetDip() != flow.PackIPv4(netip.MustParseAddr("10.0.0.54")) {
		t.Errorf("second flow = %v, want the 2 reads and 40 bytes written after the reconnect", got[1])
	}
}

func TestFailedConnect(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, flow.Event{Kind: flow.KindConnect, Time: t0, PID: pid, TID: pid, FD: 5, Ret: -111, Proto: 6,
		Local: netip.MustParseAddrPort("10.0.0.1:6000"), Remote: netip.MustParseAddrPort("10.0.0.2:80")})
	if got := s.take(); len(got) != 0 {
		t.Errorf("records = %v, want none", kinds(got))
	}
	if got := a.Stats().FailedConnects; got != 1 {
		t.Errorf("Stats().FailedConnects = %d, want 1", got)
	}
}
