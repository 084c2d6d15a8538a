// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// namesRecheck is how often at most an id file is checked for changes when an id is unknown.
const namesRecheck = time.Second

// idNames resolves user or group ids to names from an /etc/passwd or /etc/group file. The file
// is read on first use and read again when an unknown id is asked for and the file has changed.
type idNames struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	byID    map[uint32]string
	loaded  bool
	modTime time.Time
	size    int64
	checked time.Time
}

func newIDNames(path string, now func() time.Time) *idNames {
	return &idNames{path: path, now: now}
}

// name returns the name of id, or id in decimal when the file does not name it.
func (n *idNames) name(id int32) string {
	uid := uint32(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := n.byID[uid]; ok {
		return name
	}
	if now := n.now(); !n.loaded || now.Sub(n.checked) >= namesRecheck {
		n.checked = now
		n.reloadIfChanged()
		if name, ok := n.byID[uid]; ok {
			return name
		}
	}
	return strconv.FormatUint(uint64(uid), 10)
}

func (n *idNames) reloadIfChanged() {
	fi, err := os.Stat(n.path)
	if err != nil {
		n.loaded, n.byID = true, nil
		return
	}
	if n.loaded && fi.ModTime().Equal(n.modTime) && fi.Size() == n.size {
		return
	}
	data, err := os.ReadFile(n.path)
	if err != nil {
		n.loaded, n.byID = true, nil
		return
	}
	n.loaded, n.modTime, n.size = true, fi.ModTime(), fi.Size()
	n.byID = parseIDFile(data)
}

// parseIDFile reads the name (first field) and id (third field) of every line of an /etc/passwd
// or /etc/group file. The first line that names an id wins, as for getpwuid(3).
func parseIDFile(data []byte) map[uint32]string {
	m := make(map[uint32]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := bytes.SplitN(line, []byte(":"), 4)
		if len(f) < 3 || len(f[0]) == 0 {
			continue
		}
		id, err := strconv.ParseUint(string(f[2]), 10, 32)
		if err != nil {
			continue
		}
		if _, ok := m[uint32(id)]; !ok {
			m[uint32(id)] = string(f[0])
		}
	}
	return m
}
