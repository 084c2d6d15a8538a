// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable

import (
	"strings"
)

// shortIDLen is the length of a container id as SysFlow records it.
const shortIDLen = 12

// containerPrefixes are the prefixes that container runtimes put before a container id in the
// name of its cgroup: systemd scopes such as docker-<id>.scope (Docker), cri-containerd-<id>.scope
// (containerd's CRI plugin), crio-<id>.scope (CRI-O) and libpod-<id>.scope (Podman). The
// runtimes' monitor processes (crio-conmon-<id>, libpod-conmon-<id>) run outside the container
// and do not match.
var containerPrefixes = []string{"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-"}

// ContainerID returns the short id (the first 12 hexadecimal digits) of the container that a
// process runs in, given the content of its /proc/<pid>/cgroup, and false when the process runs
// on the host.
//
// The id is a 64-digit hexadecimal cgroup name, bare (/docker/<id>, or a Kubernetes pod's
// /kubepods/.../pod<uid>/<id> with the cgroupfs driver) or in a runtime's systemd scope
// (docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope). When a
// path holds several, the innermost one wins (a container in a container); among the lines of a
// cgroup v1 file, the first line that names a container wins.
func ContainerID(cgroup []byte) (string, bool) {
	for line := range strings.SplitSeq(string(cgroup), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		_, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if id, ok := containerIDFromPath(path); ok {
			return id, true
		}
	}
	return "", false
}

// containerIDFromPath returns the short id of the innermost container named in a cgroup path.
func containerIDFromPath(path string) (string, bool) {
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		seg := path[i+1:]
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		seg = strings.TrimSuffix(seg, ".scope")
		for _, p := range containerPrefixes {
			if s, ok := strings.CutPrefix(seg, p); ok {
				seg = s
				break
			}
		}
		if len(seg) == 64 && isHex(seg) {
			return seg[:shortIDLen], true
		}
	}
	return "", false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
