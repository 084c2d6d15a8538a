package flow

import "net/netip"

// Kind says what an Event reports.
type Kind uint8

// Event kinds.
const (
	// KindExec: process PID (thread TID) executed Path with Args; UID and GID are its ids after
	// the exec. StartTime is the process's start time.
	KindExec Kind = iota + 1
	// KindClone: PID/TID created ChildPID/ChildTID (a new process when ChildPID != PID, else a
	// thread). StartTime is the child's start time.
	KindClone
	// KindExit: thread TID of PID exited; when TID == PID the whole process is gone.
	KindExit
	// KindOpen: PID/TID opened Path with Flags (Linux open(2) flags); Ret is the new fd or a
	// negative errno.
	KindOpen
	// KindClose: PID/TID closed FD; the counters are FD's totals since its open (or since its
	// last flush).
	KindClose
	// KindCounters: FD's read and write totals since its open, as sampled by a periodic flush.
	KindCounters
	// KindConnect: PID/TID connected socket FD to Remote (Local is the address it was given).
	KindConnect
	// KindAccept: PID/TID accepted socket FD from Remote on Local.
	KindAccept
	// KindSetUID: PID/TID changed its user or group ids; Args holds the new ids.
	KindSetUID
	// KindFileOp: PID/TID performed Op (a FileOp) on Path (and NewPath), or on the file open on
	// FD when Path is empty; Ret is the call's result.
	KindFileOp
	// KindSocket: PID/TID sent or received on socket FD, which was not seen connecting or
	// accepting (a UDP server, or a socket opened before capture began); Local and Remote are
	// its endpoints, Remote the peer the call named when the socket has none of its own.
	KindSocket
	// KindDup: PID/TID made FD another descriptor of OldFD's file or socket (dup, dup2, dup3,
	// fcntl F_DUPFD); its counters start at zero.
	KindDup
	// KindRepeer: FD, an unconnected socket, sent to or received from another peer than
	// before; the counters are its totals for the previous peer, whose flow ends. A KindSocket
	// naming the new peer follows.
	KindRepeer
	// KindBind: PID/TID bound socket FD to Local.
	KindBind
	// KindListen: PID/TID made socket FD, bound to Local, listen.
	KindListen
	// KindSetNS: PID/TID changed namespaces (setns or unshare); Args are the call's name and
	// the namespace types it named, Ret its result.
	KindSetNS
	// KindShutdown: PID/TID shut down socket FD; Ret is the call's result.
	KindShutdown
	// KindPtrace: PID/TID made a ptrace request that attaches to, writes into or asks to be
	// traced by another process; Args are the request's name and the target pid, Ret the
	// call's result.
	KindPtrace
	// KindModule: PID/TID loaded a kernel module; Args are the call's name (init_module or
	// finit_module) and, for finit_module, the module file's path ("" when unknown), Ret the
	// call's result.
	KindModule
)

// Event is one observation of the capture layer, in wall-clock time.
type Event struct {
	Kind Kind
	// Time is when it happened, in nanoseconds since the Unix epoch.
	Time int64
	// PID is the process (thread group) id and TID the thread id, in the host's pid namespace.
	PID, TID int32
	// StartTime is the start time of PID's process (of the child for KindClone), in nanoseconds
	// since the Unix epoch, as the process OID defines it.
	StartTime int64
	// PPID is the parent process id (KindExec, KindClone).
	PPID int32
	// ChildPID and ChildTID are the new process and thread of a KindClone.
	ChildPID, ChildTID int32
	// UID and GID are the process's user and group ids (KindExec, KindSetUID).
	UID, GID int32
	// Creds are the process's capabilities and login uid after the event (KindExec,
	// KindSetUID), nil when the producer does not know them.
	Creds *Creds
	// Path is the executable (KindExec), the opened path (KindOpen) or the operated-on path
	// (KindFileOp), as given to the syscall.
	Path string
	// NewPath is the second path of a KindFileOp (the new name of a rename, the new link of a
	// link or symlink), relative to NewDirFD.
	NewPath  string
	NewDirFD int32
	// Op is the operation of a KindFileOp.
	Op FileOp
	// Args are the exec arguments without argv[0] (KindExec), or the syscall's arguments.
	Args []string
	// FD is the file descriptor concerned.
	FD int32
	// OldFD is the descriptor FD duplicates (KindDup).
	OldFD int32
	// Flags are the open(2) flags (KindOpen).
	Flags int32
	// DirFD is the directory descriptor a relative Path is relative to (KindOpen: openat's
	// dirfd). AT_FDCWD (-100), and 0 as producers that do not set it leave it, mean the working
	// directory.
	DirFD int32
	// Ret is the syscall's return value (negative errno on failure).
	Ret int64
	// ReadOps, WriteOps, ReadBytes and WriteBytes count read and write calls on FD and the
	// bytes they moved (KindClose, KindCounters).
	ReadOps, WriteOps, ReadBytes, WriteBytes int64
	// Proto is the IP protocol (6 TCP, 17 UDP) and Local and Remote the socket's endpoints
	// (KindConnect, KindAccept).
	Proto         int32
	Local, Remote netip.AddrPort
}

// FileOp is an operation on file names or attributes.
type FileOp uint8

// File operations.
const (
	FileOpMkdir FileOp = iota + 1
	FileOpRmdir
	FileOpLink
	FileOpUnlink
	FileOpSymlink
	FileOpRename
	FileOpChmod
	FileOpChown
	// FileOpTruncate truncates the file at Path (truncate), or the one open on FD (ftruncate).
	FileOpTruncate
)

// Creds are a process's capability sets (bit N is capability number N) and login uid (-1 when
// unset).
type Creds struct {
	CapEffective, CapPermitted, CapInheritable uint64
	LoginUID                                   int32
}
