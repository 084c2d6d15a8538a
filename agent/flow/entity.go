// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow

import (
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
	"path"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Linux open(2) flags, as the generic (x86-64) ABI numbers them. arm64 numbers O_DIRECTORY,
// O_NOFOLLOW, O_DIRECT and O_LARGEFILE differently; its capture must translate them.
const (
	oAccMode   = 03
	oWrOnly    = 01
	oRdWr      = 02
	oCreat     = 0100
	oExcl      = 0200
	oTrunc     = 01000
	oAppend    = 02000
	oNonBlock  = 04000
	oDSync     = 010000
	oDirect    = 040000
	oLargeFile = 0100000
	oDirectory = 0200000
	oCloExec   = 02000000
	oSync      = 04010000  // __O_SYNC | O_DSYNC
	oTmpFile   = 020000000 // __O_TMPFILE, always passed with O_DIRECTORY
)

// openFlagBits maps single Linux open flags to their OpenFlag bits.
var openFlagBits = [...]struct{ linux, sysflow int32 }{
	{oCreat, int32(sysflowv1.OpenFlag_OPEN_FLAG_CREAT)},
	{oExcl, int32(sysflowv1.OpenFlag_OPEN_FLAG_EXCL)},
	{oTrunc, int32(sysflowv1.OpenFlag_OPEN_FLAG_TRUNC)},
	{oAppend, int32(sysflowv1.OpenFlag_OPEN_FLAG_APPEND)},
	{oNonBlock, int32(sysflowv1.OpenFlag_OPEN_FLAG_NONBLOCK)},
	{oDSync, int32(sysflowv1.OpenFlag_OPEN_FLAG_DSYNC)},
	{oDirect, int32(sysflowv1.OpenFlag_OPEN_FLAG_DIRECT)},
	{oLargeFile, int32(sysflowv1.OpenFlag_OPEN_FLAG_LARGEFILE)},
	{oDirectory, int32(sysflowv1.OpenFlag_OPEN_FLAG_DIRECTORY)},
	{oCloExec, int32(sysflowv1.OpenFlag_OPEN_FLAG_CLOEXEC)},
}

// OpenFlags maps Linux open(2) flags to SysFlow's OpenFlag bits, as SysFlow's capture driver
// (open_flags_to_scap) does: the access mode becomes RDONLY, WRONLY or RDWR (an access mode of 3
// reads as RDONLY there too), and each other flag its own bit. One difference: SYNC is set only
// for O_SYNC itself, whose value includes O_DSYNC's bit, where the driver sets it for O_DSYNC
// alone too. Flags SysFlow has no bit for (O_NOCTTY, O_NOFOLLOW, O_PATH, O_TMPFILE) are dropped.
func OpenFlags(flags int32) int32 {
	var out int32
	switch flags & oAccMode {
	case oWrOnly:
		out = int32(sysflowv1.OpenFlag_OPEN_FLAG_WRONLY)
	case oRdWr:
		out = int32(sysflowv1.OpenFlag_OPEN_FLAG_RDWR)
	default:
		out = int32(sysflowv1.OpenFlag_OPEN_FLAG_RDONLY)
	}
	for _, b := range openFlagBits {
		if flags&b.linux != 0 {
			out |= b.sysflow
		}
	}
	if flags&oSync == oSync {
		out |= int32(sysflowv1.OpenFlag_OPEN_FLAG_SYNC)
	}
	return out
}

// FileOID returns SysFlow's object id of the file at path in the container: the SHA-1 digest of
// the container id's bytes followed by the path's bytes. containerID is empty on the host.
func FileOID(containerID, path string) [sha1.Size]byte {
	h := sha1.New()
	h.Write([]byte(containerID))
	h.Write([]byte(path))
	var oid [sha1.Size]byte
	h.Sum(oid[:0])
	return oid
}

// Resource types of File.restype.
const (
	restypeFile = int32('f')
	restypeDir  = int32('d')
)

// restypeOf returns the resource type of a file opened with the Linux open flags: a directory
// when opened with O_DIRECTORY (but not O_TMPFILE, which names the directory of a new unnamed
// regular file), else a regular file. Nothing else can be told without looking at the file.
func restypeOf(flags int32) int32 {
	if flags&oDirectory != 0 && flags&oTmpFile != oTmpFile {
		return restypeDir
	}
	return restypeFile
}

// resolvePath makes p absolute against the directory dir when p is relative and dir is
// known, and cleans it lexically (path.Clean).
func resolvePath(p, dir string) string {
	if !path.IsAbs(p) && path.IsAbs(dir) {
		return path.Join(dir, p)
	}
	if p == "" {
		return p
	}
	return path.Clean(p)
}

// PackIPv4 returns an IPv4 address (or an IPv4-mapped IPv6 address) as SysFlow stores it in sip
// and dip: its four bytes in network order read as a little-endian unsigned 32-bit integer,
// stored in an int32. 127.0.0.1 packs to 16777343 (0x0100007f). Other addresses pack to 0.
func PackIPv4(addr netip.Addr) int32 {
	if !addr.Unmap().Is4() {
		return 0
	}
	b := addr.Unmap().As4()
	return int32(binary.LittleEndian.Uint32(b[:]))
}

// netInfo is the identity and SysFlow endpoints of a network flow.
type netInfo struct {
	accept        bool
	local, remote netip.AddrPort
	proto         int32

	sip, dip, sport, dport int32
	sip6, dip6             []byte // nil for an IPv4 flow
}

// newNetInfo returns the endpoints of a connection made (accept false) or accepted (accept
// true) between local and remote.
func newNetInfo(accept bool, local, remote netip.AddrPort, proto int32) *netInfo {
	n := &netInfo{accept: accept, local: local, remote: remote, proto: proto}
	src, dst := local, remote
	if accept {
		src, dst = remote, local
	}
	n.sport, n.dport = int32(src.Port()), int32(dst.Port())
	if is6(src.Addr()) || is6(dst.Addr()) {
		n.sip6, n.dip6 = as16(src.Addr()), as16(dst.Addr())
		return n
	}
	n.sip, n.dip = PackIPv4(src.Addr()), PackIPv4(dst.Addr())
	return n
}

// same reports whether m names the same connection as n.
func (n *netInfo) same(m *netInfo) bool {
	return n.accept == m.accept && n.local == m.local && n.remote == m.remote && n.proto == m.proto
}

// is6 reports whether addr is an IPv6 address that is not IPv4-mapped.
func is6(addr netip.Addr) bool { return addr.Is6() && !addr.Is4In6() }

// as16 returns addr's 16 bytes (IPv4 addresses IPv4-mapped), or 16 zero bytes when addr is not
// valid.
func as16(addr netip.Addr) []byte {
	b := make([]byte, 16)
	if addr.IsValid() {
		a := addr.As16()
		copy(b, a[:])
	}
	return b
}

// IPv4 unpacks an address packed by PackIPv4.
func IPv4(packed int32) netip.Addr {
	u := uint32(packed)
	return netip.AddrFrom4([4]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)})
}
