package field

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// op is a shorthand for operation flags as int32.
func op(f sysflowv1.OperationFlag) int32 { return int32(f) }

// syscallOps maps the system calls (Falco's evt.type values) that SysFlow records stand for to
// the operation flag that marks them. A record stands for every syscall of every flag it has.
var syscallOps = map[string]int32{}

// opSyscalls lists the system calls of each operation flag, in the order evt.type lists them.
var opSyscalls = []struct {
	flag  int32
	calls []string
}{
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_CLONE), []string{"clone", "clone3", "fork", "vfork"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC), []string{"execve", "execveat"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_EXIT), []string{"exit", "exit_group", "procexit"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_SETUID), []string{"setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_SETNS), []string{"setns", "unshare"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT), []string{"accept", "accept4"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT), []string{"connect"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN), []string{"open", "openat", "openat2", "creat", "open_by_handle_at"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV), []string{"read", "pread", "pread64", "readv", "preadv", "preadv2", "recv", "recvfrom", "recvmsg", "recvmmsg"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND), []string{"write", "pwrite", "pwrite64", "writev", "pwritev", "pwritev2", "send", "sendto", "sendmsg", "sendmmsg"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE), []string{"close"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_TRUNCATE), []string{"truncate", "ftruncate"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_SHUTDOWN), []string{"shutdown"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_MMAP), []string{"mmap"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_MKDIR), []string{"mkdir", "mkdirat"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_RMDIR), []string{"rmdir"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_LINK), []string{"link", "linkat"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_UNLINK), []string{"unlink", "unlinkat"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_SYMLINK), []string{"symlink", "symlinkat"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_RENAME), []string{"rename", "renameat", "renameat2"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_CHMOD), []string{"chmod", "fchmod", "fchmodat"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_CHOWN), []string{"chown", "fchown", "fchownat", "lchown"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_BIND), []string{"bind"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_LISTEN), []string{"listen"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_PTRACE), []string{"ptrace"}},
	{op(sysflowv1.OperationFlag_OPERATION_FLAG_MODULE_LOAD), []string{"init_module", "finit_module"}},
}

func init() {
	for _, o := range opSyscalls {
		for _, c := range o.calls {
			syscallOps[c] = o.flag
		}
	}
}

// SyscallFlag returns the operation flag of a system call named as evt.type names it, and
// false for system calls no SysFlow record stands for (mount, bpf, ...).
func SyscallFlag(name string) (int32, bool) {
	f, ok := syscallOps[name]
	return f, ok
}

// Syscalls returns the names of the system calls the operation flags stand for. The list may
// be shared: callers must not modify it.
func Syscalls(flags int32) []string {
	if v, ok := syscallLists.Load(flags); ok {
		return v.([]string)
	}
	n := 0
	for _, o := range opSyscalls {
		if flags&o.flag != 0 {
			n += len(o.calls)
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for _, o := range opSyscalls {
		if flags&o.flag != 0 {
			out = append(out, o.calls...)
		}
	}
	// Records carry few combinations of flags; the bound keeps records with unusual ones from
	// growing the cache without limit.
	if syscallListCount.Load() < maxSyscallLists {
		if _, loaded := syscallLists.LoadOrStore(flags, out); !loaded {
			syscallListCount.Add(1)
		}
	}
	return out
}

// syscallLists caches Syscalls' lists by flags: evt.type is read for every record checked.
var (
	syscallLists     sync.Map // int32 → []string
	syscallListCount atomic.Int32
)

const maxSyscallLists = 4096

// flagMask returns the operation flags (single bits) whose names, as names gives them, include
// name.
func flagMask(names func(int32) []string, name string) int32 {
	var mask int32
	for b := 0; b < 32; b++ {
		if slices.Contains(names(int32(1)<<b), name) {
			mask |= int32(1) << b
		}
	}
	return mask
}

// OpFlagNames returns SysFlow's names of the operation flags (OPEN, READ_RECV, ...), lowest bit
// first.
func OpFlagNames(flags int32) []string {
	var out []string
	for f := uint32(flags); f != 0; f &= f - 1 {
		bit := int32(1) << bits.TrailingZeros32(f)
		name := sysflowv1.OperationFlag(bit).String()
		out = append(out, strings.TrimPrefix(name, "OPERATION_FLAG_"))
	}
	return out
}

// OpFlagByName returns the operation flag SysFlow names name (EXEC, OPEN, ...).
func OpFlagByName(name string) (int32, bool) {
	v, ok := sysflowv1.OperationFlag_value["OPERATION_FLAG_"+strings.ToUpper(name)]
	return v, ok && v != 0
}

// openFlagNames are SysFlow's open flags with the names Falco gives them.
var openFlagNames = []struct {
	flag int32
	name string
}{
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_CREAT), "O_CREAT"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_APPEND), "O_APPEND"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_DSYNC), "O_DSYNC"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_EXCL), "O_EXCL"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_NONBLOCK), "O_NONBLOCK"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_SYNC), "O_SYNC"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_TRUNC), "O_TRUNC"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_DIRECT), "O_DIRECT"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_DIRECTORY), "O_DIRECTORY"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_LARGEFILE), "O_LARGEFILE"},
	{int32(sysflowv1.OpenFlag_OPEN_FLAG_CLOEXEC), "O_CLOEXEC"},
}

// OpenFlagNames returns the names of SysFlow open flags as Falco writes them (O_RDONLY,
// O_WRONLY or O_RDWR first).
func OpenFlagNames(flags int32) []string {
	var out []string
	switch flags & 3 {
	case int32(sysflowv1.OpenFlag_OPEN_FLAG_RDONLY):
		out = append(out, "O_RDONLY")
	case int32(sysflowv1.OpenFlag_OPEN_FLAG_WRONLY):
		out = append(out, "O_WRONLY")
	case int32(sysflowv1.OpenFlag_OPEN_FLAG_RDWR):
		out = append(out, "O_RDWR")
	}
	for _, f := range openFlagNames {
		if flags&f.flag != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

// errnoName returns the name of a negative return code as Falco's evt.res gives it (ENOENT),
// SUCCESS for 0 and above.
func errnoName(ret int64) string {
	if ret >= 0 {
		return "SUCCESS"
	}
	if n, ok := errnoNames[syscall.Errno(-ret)]; ok {
		return n
	}
	return "E" + strconv.FormatInt(-ret, 10)
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH", syscall.EINTR: "EINTR",
	syscall.EIO: "EIO", syscall.ENXIO: "ENXIO", syscall.E2BIG: "E2BIG", syscall.ENOEXEC: "ENOEXEC",
	syscall.EBADF: "EBADF", syscall.ECHILD: "ECHILD", syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM",
	syscall.EACCES: "EACCES", syscall.EFAULT: "EFAULT", syscall.EBUSY: "EBUSY", syscall.EEXIST: "EEXIST",
	syscall.EXDEV: "EXDEV", syscall.ENODEV: "ENODEV", syscall.ENOTDIR: "ENOTDIR", syscall.EISDIR: "EISDIR",
	syscall.EINVAL: "EINVAL", syscall.ENFILE: "ENFILE", syscall.EMFILE: "EMFILE", syscall.ENOTTY: "ENOTTY",
	syscall.EFBIG: "EFBIG", syscall.ENOSPC: "ENOSPC", syscall.ESPIPE: "ESPIPE", syscall.EROFS: "EROFS",
	syscall.EMLINK: "EMLINK", syscall.EPIPE: "EPIPE", syscall.ENAMETOOLONG: "ENAMETOOLONG",
	syscall.ENOTEMPTY: "ENOTEMPTY", syscall.ELOOP: "ELOOP", syscall.ENOSYS: "ENOSYS",
	syscall.EINPROGRESS: "EINPROGRESS", syscall.EALREADY: "EALREADY", syscall.ENOTSOCK: "ENOTSOCK",
	syscall.EADDRINUSE: "EADDRINUSE", syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL",
	syscall.ENETUNREACH: "ENETUNREACH", syscall.ECONNABORTED: "ECONNABORTED",
	syscall.ECONNRESET: "ECONNRESET", syscall.EISCONN: "EISCONN", syscall.ENOTCONN: "ENOTCONN",
	syscall.ETIMEDOUT: "ETIMEDOUT", syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.EHOSTUNREACH: "EHOSTUNREACH", syscall.EOPNOTSUPP: "EOPNOTSUPP",
}

// RecordTypeCode returns SysFlow's short name of a record type, as sf.type and SysFlow
// policies' prefilter name it: PE, PF, FF, FE, NF, NE, P, F, C, H, POD, KE.
func RecordTypeCode(t sysflowv1.RecordType) string {
	return recordTypeCodes[t]
}

// RecordTypeByCode is the inverse of RecordTypeCode.
func RecordTypeByCode(code string) (sysflowv1.RecordType, bool) {
	for t, c := range recordTypeCodes {
		if strings.EqualFold(c, code) {
			return t, true
		}
	}
	return 0, false
}

var recordTypeCodes = map[sysflowv1.RecordType]string{
	sysflowv1.RecordType_RECORD_TYPE_HEADER:        "H",
	sysflowv1.RecordType_RECORD_TYPE_CONTAINER:     "C",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS:       "P",
	sysflowv1.RecordType_RECORD_TYPE_FILE:          "F",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT: "PE",
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW:  "NF",
	sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW:     "FF",
	sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT:    "FE",
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT: "NE",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW:  "PF",
	sysflowv1.RecordType_RECORD_TYPE_POD:           "POD",
	sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT:     "KE",
}

// ptraceRequests are Linux's ptrace(2) requests (include/uapi/linux/ptrace.h and the x86 ones of
// arch/x86/include/uapi/asm/ptrace-abi.h), by number.
var ptraceRequests = map[int64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR",
	4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT",
	8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
	14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH",
	18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS", 24: "PTRACE_SYSCALL",
	25: "PTRACE_GET_THREAD_AREA", 26: "PTRACE_SET_THREAD_AREA", 30: "PTRACE_ARCH_PRCTL",
	31: "PTRACE_SYSEMU", 32: "PTRACE_SYSEMU_SINGLESTEP", 33: "PTRACE_SINGLEBLOCK",
	0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG", 0x4202: "PTRACE_GETSIGINFO",
	0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET", 0x4205: "PTRACE_SETREGSET",
	0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN",
	0x4209: "PTRACE_PEEKSIGINFO", 0x420a: "PTRACE_GETSIGMASK", 0x420b: "PTRACE_SETSIGMASK",
	0x420c: "PTRACE_SECCOMP_GET_FILTER", 0x420d: "PTRACE_SECCOMP_GET_METADATA",
	0x420e: "PTRACE_GET_SYSCALL_INFO", 0x420f: "PTRACE_GET_RSEQ_CONFIGURATION",
	0x4210: "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG", 0x4211: "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG",
}

// PtraceRequestName returns the name of a ptrace(2) request written as a number, decimal or
// hexadecimal (16 or 0x10: PTRACE_ATTACH). Other strings, and numbers Linux does not define,
// come back unchanged with false.
func PtraceRequestName(s string) (string, bool) {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return s, false
	}
	name, ok := ptraceRequests[n]
	if !ok {
		return s, false
	}
	return name, true
}

// capNames are Linux's capabilities (include/uapi/linux/capability.h), by number.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapNames renders a capability set (bit N set: capability number N) as Falco renders
// thread.cap_effective and its siblings: the names, space-separated, in the order of their
// numbers. Bits Linux does not define are left out, as Falco leaves them out.
func CapNames(set uint64) string {
	var b strings.Builder
	for n, name := range capNames {
		if set&(1<<n) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
	}
	return b.String()
}
