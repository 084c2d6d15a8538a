// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable_test

import (
	"strings"
	"testing"

	"github.com/sysflux/sysflux/agent/proctable"
)

const cid = "2f1c9e6d0a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"

func TestContainerID(t *testing.T) {
	tests := []struct {
		name, cgroup string
		want         string // "" on the host
	}{
		{name: "host cgroup v2", cgroup: "0::/init.scope\n"},
		{name: "host root", cgroup: "0::/\n"},
		{name: "systemd service", cgroup: "0::/system.slice/containerd.service\n"},
		{name: "systemd user session", cgroup: "0::/user.slice/user-1000.slice/session-3.scope\n"},
		{
			name:   "systemd user app",
			cgroup: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-5f2d9c44-7d8b-4c1e-9b1a-2c3d4e5f6a7b.scope\n",
		},
		{name: "docker systemd driver", cgroup: "0::/system.slice/docker-" + cid + ".scope\n", want: cid[:12]},
		{name: "docker cgroupfs driver", cgroup: "0::/docker/" + cid + "\n", want: cid[:12]},
		{
			name: "docker cgroup v1",
			cgroup: "12:pids:/docker/" + cid + "\n11:memory:/docker/" + cid + "\n" +
				"1:name=systemd:/docker/" + cid + "\n0::/system.slice/containerd.service\n",
			want: cid[:12],
		},
		{
			name:   "kubernetes containerd systemd driver",
			cgroup: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + cid + ".scope\n",
			want:   cid[:12],
		},
		{
			name:   "kubernetes cgroupfs driver",
			cgroup: "0::/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" + cid + "\n",
			want:   cid[:12],
		},
		{
			name:   "kubernetes pod cgroup only",
			cgroup: "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice\n",
		},
		{
			name:   "cri-o",
			cgroup: "0::/kubepods.slice/kubepods-pod0f1e2d3c_4b5a.slice/crio-" + cid + ".scope\n",
			want:   cid[:12],
		},
		{
			name:   "cri-o conmon runs on the host",
			cgroup: "0::/kubepods.slice/kubepods-pod0f1e2d3c_4b5a.slice/crio-conmon-" + cid + ".scope\n",
		},
		{name: "podman", cgroup: "0::/machine.slice/libpod-" + cid + ".scope\n", want: cid[:12]},
		{
			name:   "podman rootless with container sub-cgroup",
			cgroup: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container\n",
			want:   cid[:12],
		},
		{name: "podman conmon", cgroup: "0::/machine.slice/libpod-conmon-" + cid + ".scope\n"},
		{
			name:   "docker in docker: innermost",
			cgroup: "0::/docker/" + strings.Repeat("a", 64) + "/docker/" + cid + "\n",
			want:   cid[:12],
		},
		{name: "short hex", cgroup: "4:memory:/process_api/325514ee45e57390bfe65dd1b296b5ce\n0::/\n"},
		{name: "uppercase is not an id", cgroup: "0::/docker/" + strings.ToUpper(cid) + "\n"},
		{name: "65 digits", cgroup: "0::/docker/" + cid + "0\n"},
		{name: "empty", cgroup: ""},
		{name: "garbage", cgroup: "no colons here\n::\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := proctable.ContainerID([]byte(tt.cgroup))
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("ContainerID(%q) = %q, %t, want %q, %t", tt.cgroup, got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func FuzzContainerID(f *testing.F) {
	f.Add([]byte("0::/system.slice/docker-" + cid + ".scope\n"))
	f.Add([]byte("0::/init.scope\n"))
	f.Add([]byte("12:pids:/docker/" + cid + "\n"))
	f.Fuzz(func(t *testing.T, cgroup []byte) {
		id, ok := proctable.ContainerID(cgroup)
		if ok != (id != "") {
			t.Fatalf("ContainerID(%q) = %q, %t", cgroup, id, ok)
		}
		if ok && (len(id) != 12 || strings.Trim(id, "0123456789abcdef") != "") {
			t.Fatalf("ContainerID(%q) = %q, not 12 hexadecimal digits", cgroup, id)
		}
	})
}
