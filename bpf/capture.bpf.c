//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sysflux capture: process lifecycle from the sched tracepoints, file opens and closes from
 * the syscall tracepoints, and read/write counts aggregated per open file in the kernel, so
 * that a record crosses to user space when something changes, not on every read or write. */

#include "headers/capture.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual BSD/GPL";

#define PATH_MAX_LEN 256
#define ARGS_MAX_LEN 1024

enum event_kind {
	EVENT_EXEC = 1,
	EVENT_CLONE = 2,
	EVENT_EXIT = 3,
	EVENT_OPEN = 4,
	EVENT_CLOSE = 5,
	EVENT_CONNECT = 6,
	EVENT_ACCEPT = 7,
	EVENT_DUP = 8,
	EVENT_FILEOP = 9,
	EVENT_SETUID = 10,
	EVENT_SOCKET = 11,
	EVENT_REPEER = 12, /* an unconnected socket's counts for its previous peer (close_event) */
	EVENT_BIND = 13,
	EVENT_LISTEN = 14,
	EVENT_NS = 15,
	EVENT_SHUTDOWN = 16,
	EVENT_PTRACE = 17,
	EVENT_MODULE = 18,
};

struct event_header {
	__u32 kind;
	__u32 pid; /* thread group id */
	__u32 tid;
	__u32 start_pad;
	__u64 ts;             /* boot-time ns */
	__u64 start_boottime; /* of the process (of the child for clone), boot-time ns */
};

/* A task's capability sets and login uid, as its credentials hold them. */
struct creds {
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
	__u32 loginuid;
	__u32 pad;
};

struct exec_event {
	struct event_header h;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 args_len;
	struct creds creds;
	char filename[PATH_MAX_LEN];
	char args[ARGS_MAX_LEN];
};

struct clone_event {
	struct event_header h;
	__u32 child_pid;
	__u32 child_tid;
	__u32 ppid;
	__u32 pad;
};

struct exit_event {
	struct event_header h;
	__s32 exit_code;
	__u32 pad;
};

struct open_event {
	struct event_header h;
	__s64 ret;
	__s32 flags;
	__s32 dirfd;
	char path[PATH_MAX_LEN];
};

struct fd_key {
	__u32 pid;
	__s32 fd;
};

struct fd_counts {
	__u64 read_ops;
	__u64 write_ops;
	__u64 read_bytes;
	__u64 write_bytes;
	/* An unconnected socket (UDP without connect) counts per peer: peer identifies the peer
	 * of the counts (0 before the first), and a send or receive naming another peer ends them. */
	__u64 peer;
	__u32 unconnected;
	__u32 pad;
};

struct close_event {
	struct event_header h;
	__s32 fd;
	__u32 pad;
	struct fd_counts counts;
};

/* A connect or accept: the socket's endpoints once the call returned. */
struct net_event {
	struct event_header h;
	__s64 ret;
	__s32 fd;
	__u16 family; /* AF_INET 2, AF_INET6 10 */
	__u16 proto;  /* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	__u16 sport;  /* host order */
	__u16 dport;  /* host order */
	__u32 pad;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

/* A dup: fd now refers to oldfd's file; its counters start at zero. */
struct dup_event {
	struct event_header h;
	__s32 fd;
	__s32 oldfd;
};

/* An operation on names or attributes of files: mkdir, rmdir, link, unlink, symlink, rename,
 * chmod, chown. */
enum fileop {
	FILEOP_MKDIR = 1,
	FILEOP_RMDIR = 2,
	FILEOP_LINK = 3,
	FILEOP_UNLINK = 4,
	FILEOP_SYMLINK = 5,
	FILEOP_RENAME = 6,
	FILEOP_CHMOD = 7,
	FILEOP_CHOWN = 8,
	FILEOP_TRUNCATE = 9,
};

struct fileop_event {
	struct event_header h;
	__s64 ret;
	__u32 op;
	__s32 fd;       /* fchmod/fchown: the descriptor; else -1 */
	__s32 dirfd;    /* of path */
	__s32 newdirfd; /* of newpath */
	char path[PATH_MAX_LEN];
	char newpath[PATH_MAX_LEN];
};

/* A change of user or group ids: the ids after the call (-1 when unchanged). */
struct setuid_event {
	struct event_header h;
	__s64 ret;
	__s32 uid;
	__s32 gid;
	struct creds creds; /* after the call */
};

/* A kernel module load: init_module (op 1) or finit_module (op 2, fd the module file). */
struct module_event {
	struct event_header h;
	__s64 ret;
	__u32 op;
	__s32 fd;
};

/* A ptrace request that attaches, writes into another process (memory or registers) or asks to
 * be traced (the others, such as the peeks a debugger makes by the thousand, are not
 * reported). */
struct ptrace_event {
	struct event_header h;
	__s64 ret;
	__s64 request;
	__s32 target; /* the pid the request names */
	__u32 pad;
};

/* A change of namespaces: setns (op 1, flags the nstype) or unshare (op 2, its flags). */
struct ns_event {
	struct event_header h;
	__s64 ret;
	__u32 op;
	__u32 flags;
};

/* A shutdown of a counted socket (how: SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2). */
struct shutdown_event {
	struct event_header h;
	__s64 ret;
	__s32 fd;
	__s32 how;
};

/* A file operation in progress: the arguments seen on entry, for the exit. */
struct fileop_args {
	__u64 path;    /* const char __user * */
	__u64 newpath; /* const char __user * */
	__u32 op;
	__s32 fd;
	__s32 dirfd;
	__s32 newdirfd;
};

/* An open in progress: the arguments seen on entry, for the exit. */
struct open_args {
	__u64 path; /* const char __user * */
	__s32 flags;
	__s32 dirfd;
};

/* The agent's own process, never recorded; set before load. */
volatile const __u32 self_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* System calls accounted for in records (each read or write folded into counters too), per
 * CPU: the measure of how much the aggregation saves. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} observed SEC(".maps");

/* Records the ring buffer had no room for, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Read and write counts of every open file the agent saw being opened. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct fd_counts);
} fds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct open_args);
} opens SEC(".maps");


/* Keep the event types in BTF so that bpf2go generates their Go twins. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct fileop_args);
} fileops SEC(".maps");

const struct exec_event *unused_exec __attribute__((unused));
const struct clone_event *unused_clone __attribute__((unused));
const struct exit_event *unused_exit __attribute__((unused));
const struct open_event *unused_open __attribute__((unused));
const struct close_event *unused_close __attribute__((unused));
const struct net_event *unused_net __attribute__((unused));
const struct dup_event *unused_dup __attribute__((unused));
const struct fileop_event *unused_fileop __attribute__((unused));
const struct setuid_event *unused_setuid __attribute__((unused));
const struct ns_event *unused_ns __attribute__((unused));
const struct shutdown_event *unused_shutdown __attribute__((unused));
const struct ptrace_event *unused_ptrace __attribute__((unused));
const struct module_event *unused_module __attribute__((unused));

static __always_inline void observe(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&observed, &zero);
	if (n)
		*n += 1; /* per CPU, and programs do not migrate while they run */
}

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void *reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e)
		count_drop();
	return e;
}

static __always_inline void fill_header(struct event_header *h, __u32 kind, __u64 id)
{
	h->kind = kind;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->start_pad = 0;
	h->ts = bpf_ktime_get_boot_ns();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	h->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
}

static __always_inline void fill_creds(struct creds *c, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	c->cap_effective = BPF_CORE_READ(cred, cap_effective.val);
	c->cap_permitted = BPF_CORE_READ(cred, cap_permitted.val);
	c->cap_inheritable = BPF_CORE_READ(cred, cap_inheritable.val);
	c->loginuid = BPF_CORE_READ(task, loginuid.val);
	c->pad = 0;
}

SEC("raw_tracepoint/sched_process_exec")
int sched_process_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	struct exec_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	observe();
	fill_header(&e->h, EVENT_EXEC, id);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	fill_creds(&e->creds, task);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u64 len = end - start;
	if (len > ARGS_MAX_LEN)
		len = ARGS_MAX_LEN;
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int sched_process_fork(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	struct clone_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	observe();
	fill_header(&e->h, EVENT_CLONE, id);
	e->child_pid = BPF_CORE_READ(child, tgid);
	e->child_tid = BPF_CORE_READ(child, pid);
	e->ppid = BPF_CORE_READ(parent, real_parent, tgid);
	e->pad = 0;
	/* The child's start, for its process id; a thread's process is the parent's. */
	if (e->child_pid != e->h.pid)
		e->h.start_boottime = BPF_CORE_READ(child, start_boottime);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int sched_process_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct exit_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	/* One exit per process, as exit_group ends every thread. */
	if ((__u32)id == id >> 32)
		observe();
	fill_header(&e->h, EVENT_EXIT, id);
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int enter_open(const char *path, __s32 flags, __s32 dirfd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	__u32 tid = (__u32)id;
	struct open_args a = {.path = (__u64)path, .flags = flags, .dirfd = dirfd};
	bpf_map_update_elem(&opens, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int exit_open(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct open_args *a = bpf_map_lookup_elem(&opens, &tid);
	if (!a)
		return 0;
	observe();
	struct open_event *e = reserve(sizeof(*e));
	if (!e) {
		bpf_map_delete_elem(&opens, &tid);
		return 0;
	}
	fill_header(&e->h, EVENT_OPEN, id);
	e->ret = ret;
	e->flags = a->flags;
	e->dirfd = a->dirfd;
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)a->path);
	bpf_map_delete_elem(&opens, &tid);
	if (ret >= 0) {
		struct fd_key k = {.pid = id >> 32, .fd = ret};
		struct fd_counts zero = {};
		bpf_map_update_elem(&fds, &k, &zero, BPF_ANY);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#define AT_FDCWD -100

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct syscall_enter_ctx *ctx)
{
	return enter_open((const char *)ctx->args[1], ctx->args[2], ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct syscall_exit_ctx *ctx) { return exit_open(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open_(struct syscall_enter_ctx *ctx)
{
	return enter_open((const char *)ctx->args[0], ctx->args[1], AT_FDCWD);
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open_(struct syscall_exit_ctx *ctx) { return exit_open(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_creat")
int enter_creat(struct syscall_enter_ctx *ctx)
{
	/* creat is open with O_CREAT|O_WRONLY|O_TRUNC. */
	return enter_open((const char *)ctx->args[0], 01 | 0100 | 01000, AT_FDCWD);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct syscall_exit_ctx *ctx) { return exit_open(ctx->ret); }

struct open_how_flags {
	__u64 flags;
};

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct syscall_enter_ctx *ctx)
{
	struct open_how_flags how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter_open((const char *)ctx->args[1], (__s32)how.flags, ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct syscall_exit_ctx *ctx) { return exit_open(ctx->ret); }

/* user_regs returns the saved user registers of the current task, which hold a system call's
 * arguments until it returns: a pointer the verifier trusts, read directly rather than through
 * bpf_probe_read_kernel. */
static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The fd of a call at its exit: the syscall's first argument, still in the saved user
 * registers. Reading it there spares a map update on entry. */
static __always_inline __s32 exit_fd(void)
{
	return (__s32)user_regs()->di;
}

/* add_io adds ops reads or writes of n bytes in all to an fd's counters. */
static __always_inline void add_io(struct fd_counts *c, long ops, long n, bool write)
{
	observe();
	if (write) {
		__sync_fetch_and_add(&c->write_ops, ops);
		__sync_fetch_and_add(&c->write_bytes, n);
	} else {
		__sync_fetch_and_add(&c->read_ops, ops);
		__sync_fetch_and_add(&c->read_bytes, n);
	}
}

/* emit_counts reports a counted fd's counts: at its close (EVENT_CLOSE), or when an unconnected
 * socket turns to another peer (EVENT_REPEER). */
static __always_inline void emit_counts(__u32 kind, __u64 id, __s32 fd, struct fd_counts *c)
{
	struct close_event *e = reserve(sizeof(*e));
	if (!e)
		return;
	fill_header(&e->h, kind, id);
	e->fd = fd;
	e->pad = 0;
	e->counts = *c;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int count_io(long ret, bool write)
{
	if (ret < 0)
		return 0;
	struct pt_regs *regs = user_regs();
	__u64 id = bpf_get_current_pid_tgid();
	struct fd_key k = {.pid = id >> 32, .fd = (__s32)regs->di};
	struct fd_counts *c = bpf_map_lookup_elem(&fds, &k);
	if (!c)
		return 0; /* not a file the agent saw opened */
	add_io(c, 1, ret, write);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fd_key k = {.pid = id >> 32, .fd = ctx->args[0]};
	struct fd_counts *c = bpf_map_lookup_elem(&fds, &k);
	if (!c)
		return 0;
	observe();
	emit_counts(EVENT_CLOSE, id, k.fd, c);
	bpf_map_delete_elem(&fds, &k);
	return 0;
}

#define AF_INET 2
#define AF_INET6 10
#define EINPROGRESS 115

/* The socket behind a descriptor of the current process, or NULL. */
static __always_inline struct sock *fd_sock(__s32 fd)
{
	if (fd < 0)
		return NULL;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if ((unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The user's sockaddr_in or sockaddr_in6, as passed to sendto or filled by recvfrom. */
struct user_sockaddr {
	__u16 family;
	__be16 port;
	__u32 v4_or_flowinfo;
	__u8 v6[16];
};

/* peer_key identifies a peer address; never 0. */
static __always_inline __u64 peer_key(const struct user_sockaddr *sa)
{
	if (sa->family == AF_INET)
		return ((__u64)sa->port << 32 | sa->v4_or_flowinfo) + 1;
	__u64 a, b;
	__builtin_memcpy(&a, sa->v6, 8);
	__builtin_memcpy(&b, sa->v6 + 8, 8);
	__u64 k = a ^ (b * 0x9E3779B97F4A7C15ULL) ^ ((__u64)sa->port << 17);
	return k ? k : 1;
}

static __always_inline int net_event_peer(__u32 kind, __s32 fd, long ret, const void *upeer);

static __always_inline int net_event(__u32 kind, __s32 fd, long ret)
{
	return net_event_peer(kind, fd, ret, NULL);
}

/* A connect, an accept, a bind, a listen, or the first send or receive on a socket not seen
 * before (a UDP server, or a socket opened before the agent started) or, on an unconnected
 * socket, with another peer. When the socket has no peer of its own (unconnected UDP), upeer,
 * the address the call named, gives it. Counting starts again from zero. */
static __always_inline int net_event_peer(__u32 kind, __s32 fd, long ret, const void *upeer)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	struct sock *sk = fd_sock(fd);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	struct fd_counts zero = {};
	struct user_sockaddr sa = {};
	if (dport == 0) {
		zero.unconnected = 1;
		if (upeer && bpf_probe_read_user(&sa, sizeof(sa), upeer) == 0 && sa.family == family)
			zero.peer = peer_key(&sa);
	}
	if (kind != EVENT_SOCKET)
		observe(); /* a send or receive is counted as such */
	struct net_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, kind, id);
	e->ret = ret;
	e->fd = fd;
	e->family = family;
	e->proto = BPF_CORE_READ(sk, sk_protocol);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = (dport >> 8) | (dport << 8);
	e->pad = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, sizeof(e->saddr), &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, sizeof(e->daddr), &sk->__sk_common.skc_v6_daddr);
	}
	if (zero.peer) {
		e->dport = (sa.port >> 8) | (sa.port << 8);
		if (family == AF_INET)
			*(__u32 *)e->daddr = sa.v4_or_flowinfo;
		else
			__builtin_memcpy(e->daddr, sa.v6, sizeof(e->daddr));
	}
	bpf_ringbuf_submit(e, 0);
	if (ret >= 0 || ret == -EINPROGRESS) {
		struct fd_key k = {.pid = id >> 32, .fd = fd};
		bpf_map_update_elem(&fds, &k, &zero, BPF_ANY);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct syscall_exit_ctx *ctx) { return net_event(EVENT_CONNECT, exit_fd(), ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct syscall_exit_ctx *ctx)
{
	return ctx->ret < 0 ? 0 : net_event(EVENT_ACCEPT, ctx->ret, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_exit_ctx *ctx)
{
	return ctx->ret < 0 ? 0 : net_event(EVENT_ACCEPT, ctx->ret, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct syscall_exit_ctx *ctx) { return net_event(EVENT_BIND, exit_fd(), ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_listen")
int exit_listen(struct syscall_exit_ctx *ctx) { return net_event(EVENT_LISTEN, exit_fd(), ctx->ret); }

/* Where a send or receive names its peer. */
enum peer_arg {
	PEER_NONE = 0,
	PEER_SOCKADDR = 1, /* the fifth argument is a struct sockaddr * (sendto, recvfrom) */
	PEER_MSGHDR = 2,   /* the second argument is a struct msghdr *, msg_name first (sendmsg, recvmsg,
			    * and sendmmsg and recvmmsg, whose first mmsghdr starts with one) */
};

/* user_peer returns the user's struct sockaddr * of a send or receive, or NULL. */
static __always_inline const void *user_peer(struct pt_regs *regs, int peer)
{
	const void *upeer = NULL;
	if (peer == PEER_SOCKADDR) {
		upeer = (const void *)regs->r8;
	} else if (peer == PEER_MSGHDR) {
		const void *msg = (const void *)regs->si;
		bpf_probe_read_user(&upeer, sizeof(upeer), msg);
	}
	return upeer;
}

/* sock_counts returns the counters of the socket a send or receive used, starting them for a
 * socket not seen before and starting them again when an unconnected socket names another
 * peer. */
static __always_inline struct fd_counts *sock_counts(__u64 id, struct pt_regs *regs, int peer)
{
	__s32 fd = (__s32)regs->di;
	struct fd_key k = {.pid = id >> 32, .fd = fd};
	struct fd_counts *c = bpf_map_lookup_elem(&fds, &k);
	if (!c) {
		net_event_peer(EVENT_SOCKET, fd, 0, user_peer(regs, peer));
		return bpf_map_lookup_elem(&fds, &k); /* NULL: not an IP socket, or the agent's own */
	}
	if (!c->unconnected || peer == PEER_NONE)
		return c;
	const void *upeer = user_peer(regs, peer);
	struct user_sockaddr sa = {};
	if (!upeer || bpf_probe_read_user(&sa, sizeof(sa), upeer) != 0 ||
	    (sa.family != AF_INET && sa.family != AF_INET6) || peer_key(&sa) == c->peer)
		return c;
	if (c->peer)
		emit_counts(EVENT_REPEER, id, fd, c);
	net_event_peer(EVENT_SOCKET, fd, 0, upeer);
	return bpf_map_lookup_elem(&fds, &k);
}

static __always_inline int sock_io(long ret, bool write, int peer)
{
	if (ret < 0)
		return 0;
	struct pt_regs *regs = user_regs();
	__u64 id = bpf_get_current_pid_tgid();
	struct fd_counts *c = sock_counts(id, regs, peer);
	if (c)
		add_io(c, 1, ret, write);
	return 0;
}

/* struct mmsghdr: a struct msghdr (56 bytes) and the bytes moved for it. */
#define MMSGHDR_SIZE 64
#define MMSGHDR_LEN_OFF 56
#define MMSG_MAX 32

/* sock_mmsg counts a sendmmsg or recvmmsg: ret messages, and the bytes of the first MMSG_MAX. */
static __always_inline int sock_mmsg(long ret, bool write)
{
	if (ret <= 0)
		return 0;
	struct pt_regs *regs = user_regs();
	__u64 id = bpf_get_current_pid_tgid();
	struct fd_counts *c = sock_counts(id, regs, PEER_MSGHDR);
	if (!c)
		return 0;
	const char *vec = (const char *)regs->si;
	long bytes = 0;
	for (int i = 0; i < MMSG_MAX && i < ret; i++) {
		__u32 len = 0;
		bpf_probe_read_user(&len, sizeof(len), vec + i * MMSGHDR_SIZE + MMSGHDR_LEN_OFF);
		bytes += len;
	}
	add_io(c, ret, bytes, write);
	return 0;
}

/* The reads, writes, sends and receives, the calls a busy process makes most, each on its own
 * syscall tracepoint: a program on the raw sys_exit tracepoint instead (tp_btf), with one switch
 * for all, would spare the perf tracepoint dispatch on these calls but run at the exit of every
 * other system call too, which costs more than it saves on a server (measured with redis: about
 * 85 ns added to each of the calls it does not count, 85 ns saved on each it does). */
SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, false); }

SEC("tracepoint/syscalls/sys_exit_pread64")
int exit_pread64(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, false); }

SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, false); }

SEC("tracepoint/syscalls/sys_exit_preadv")
int exit_preadv(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, false); }

SEC("tracepoint/syscalls/sys_exit_preadv2")
int exit_preadv2(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, false); }

SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, true); }

SEC("tracepoint/syscalls/sys_exit_pwrite64")
int exit_pwrite64(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, true); }

SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, true); }

SEC("tracepoint/syscalls/sys_exit_pwritev")
int exit_pwritev(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, true); }

SEC("tracepoint/syscalls/sys_exit_pwritev2")
int exit_pwritev2(struct syscall_exit_ctx *ctx) { return count_io(ctx->ret, true); }

SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct syscall_exit_ctx *ctx) { return sock_io(ctx->ret, true, PEER_SOCKADDR); }

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct syscall_exit_ctx *ctx) { return sock_io(ctx->ret, true, PEER_MSGHDR); }

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int exit_sendmmsg(struct syscall_exit_ctx *ctx) { return sock_mmsg(ctx->ret, true); }

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct syscall_exit_ctx *ctx) { return sock_io(ctx->ret, false, PEER_SOCKADDR); }

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct syscall_exit_ctx *ctx) { return sock_io(ctx->ret, false, PEER_MSGHDR); }

SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int exit_recvmmsg(struct syscall_exit_ctx *ctx) { return sock_mmsg(ctx->ret, false); }

SEC("tracepoint/syscalls/sys_exit_shutdown")
int exit_shutdown(struct syscall_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pt_regs *regs = user_regs();
	struct fd_key k = {.pid = id >> 32, .fd = (__s32)regs->di};
	if (!bpf_map_lookup_elem(&fds, &k))
		return 0;
	observe();
	struct shutdown_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, EVENT_SHUTDOWN, id);
	e->ret = ctx->ret;
	e->fd = k.fd;
	e->how = (__s32)regs->si;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* A descriptor duplicated from a counted one is counted too: a shell's redirection opens a
 * file, dup2s it onto 1 and closes the original, then writes to 1. */
static __always_inline int dup_fd(__s32 oldfd, long ret)
{
	if (ret < 0 || (long)oldfd == ret)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	struct fd_key old = {.pid = id >> 32, .fd = oldfd};
	struct fd_counts *oc = bpf_map_lookup_elem(&fds, &old);
	if (!oc)
		return 0;
	/* The copy counts from zero, on the same peer. */
	struct fd_counts zero = {.peer = oc->peer, .unconnected = oc->unconnected};
	struct fd_key k = {.pid = id >> 32, .fd = ret};
	/* dup2/dup3 onto a counted descriptor close it first. */
	struct fd_counts *c = bpf_map_lookup_elem(&fds, &k);
	if (c)
		emit_counts(EVENT_CLOSE, id, k.fd, c);
	bpf_map_update_elem(&fds, &k, &zero, BPF_ANY);
	observe();
	struct dup_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, EVENT_DUP, id);
	e->fd = ret;
	e->oldfd = oldfd;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_dup")
int exit_dup(struct syscall_exit_ctx *ctx) { return dup_fd(exit_fd(), ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_dup2")
int exit_dup2(struct syscall_exit_ctx *ctx) { return dup_fd(exit_fd(), ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_dup3")
int exit_dup3(struct syscall_exit_ctx *ctx) { return dup_fd(exit_fd(), ctx->ret); }

#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030

SEC("tracepoint/syscalls/sys_exit_fcntl")
int exit_fcntl(struct syscall_exit_ctx *ctx)
{
	struct pt_regs *regs = user_regs();
	unsigned long cmd = regs->si;
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return 0;
	return dup_fd((__s32)regs->di, ctx->ret);
}

static __always_inline int enter_fileop(__u32 op, __s32 dirfd, const char *path, __s32 newdirfd, const char *newpath, __s32 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	__u32 tid = (__u32)id;
	struct fileop_args a = {
		.path = (__u64)path, .newpath = (__u64)newpath, .op = op,
		.fd = fd, .dirfd = dirfd, .newdirfd = newdirfd,
	};
	bpf_map_update_elem(&fileops, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int exit_fileop(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct fileop_args *a = bpf_map_lookup_elem(&fileops, &tid);
	if (!a)
		return 0;
	observe();
	struct fileop_event *e = reserve(sizeof(*e));
	if (e) {
		fill_header(&e->h, EVENT_FILEOP, id);
		e->ret = ret;
		e->op = a->op;
		e->fd = a->fd;
		e->dirfd = a->dirfd;
		e->newdirfd = a->newdirfd;
		e->path[0] = 0;
		e->newpath[0] = 0;
		if (a->path)
			bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)a->path);
		if (a->newpath)
			bpf_probe_read_user_str(e->newpath, sizeof(e->newpath), (const char *)a->newpath);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&fileops, &tid);
	return 0;
}

#define ARG(i) ((const char *)ctx->args[i])
#define AT_REMOVEDIR 0x200

SEC("tracepoint/syscalls/sys_enter_mkdir")
int enter_mkdir(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_MKDIR, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_mkdirat")
int enter_mkdirat(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_MKDIR, ctx->args[0], ARG(1), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_rmdir")
int enter_rmdir(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_RMDIR, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_unlink")
int enter_unlink(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_UNLINK, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_unlinkat")
int enter_unlinkat(struct syscall_enter_ctx *ctx)
{
	__u32 op = (ctx->args[2] & AT_REMOVEDIR) ? FILEOP_RMDIR : FILEOP_UNLINK;
	return enter_fileop(op, ctx->args[0], ARG(1), 0, 0, -1);
}
SEC("tracepoint/syscalls/sys_enter_link")
int enter_link(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_LINK, AT_FDCWD, ARG(0), AT_FDCWD, ARG(1), -1); }
SEC("tracepoint/syscalls/sys_enter_linkat")
int enter_linkat(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_LINK, ctx->args[0], ARG(1), ctx->args[2], ARG(3), -1); }
SEC("tracepoint/syscalls/sys_enter_symlink")
int enter_symlink(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_SYMLINK, AT_FDCWD, ARG(0), AT_FDCWD, ARG(1), -1); }
SEC("tracepoint/syscalls/sys_enter_symlinkat")
int enter_symlinkat(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_SYMLINK, AT_FDCWD, ARG(0), ctx->args[1], ARG(2), -1); }
SEC("tracepoint/syscalls/sys_enter_rename")
int enter_rename(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_RENAME, AT_FDCWD, ARG(0), AT_FDCWD, ARG(1), -1); }
SEC("tracepoint/syscalls/sys_enter_renameat")
int enter_renameat(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_RENAME, ctx->args[0], ARG(1), ctx->args[2], ARG(3), -1); }
SEC("tracepoint/syscalls/sys_enter_renameat2")
int enter_renameat2(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_RENAME, ctx->args[0], ARG(1), ctx->args[2], ARG(3), -1); }
SEC("tracepoint/syscalls/sys_enter_chmod")
int enter_chmod(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHMOD, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_fchmod")
int enter_fchmod(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHMOD, AT_FDCWD, 0, 0, 0, ctx->args[0]); }
SEC("tracepoint/syscalls/sys_enter_fchmodat")
int enter_fchmodat(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHMOD, ctx->args[0], ARG(1), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_chown")
int enter_chown(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHOWN, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_lchown")
int enter_lchown(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHOWN, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_fchown")
int enter_fchown(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHOWN, AT_FDCWD, 0, 0, 0, ctx->args[0]); }
SEC("tracepoint/syscalls/sys_enter_fchownat")
int enter_fchownat(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_CHOWN, ctx->args[0], ARG(1), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_truncate")
int enter_truncate(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_TRUNCATE, AT_FDCWD, ARG(0), 0, 0, -1); }
SEC("tracepoint/syscalls/sys_enter_ftruncate")
int enter_ftruncate(struct syscall_enter_ctx *ctx) { return enter_fileop(FILEOP_TRUNCATE, AT_FDCWD, 0, 0, 0, ctx->args[0]); }

SEC("tracepoint/syscalls/sys_exit_mkdir")
int exit_mkdir(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_mkdirat")
int exit_mkdirat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_rmdir")
int exit_rmdir(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_unlink")
int exit_unlink(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_unlinkat")
int exit_unlinkat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_link")
int exit_link(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_linkat")
int exit_linkat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_symlink")
int exit_symlink(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_symlinkat")
int exit_symlinkat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_rename")
int exit_rename(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_renameat")
int exit_renameat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_renameat2")
int exit_renameat2(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_chmod")
int exit_chmod(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmod")
int exit_fchmod(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchmodat")
int exit_fchmodat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_chown")
int exit_chown(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_lchown")
int exit_lchown(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchown")
int exit_fchown(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_fchownat")
int exit_fchownat(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_truncate")
int exit_truncate(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_ftruncate")
int exit_ftruncate(struct syscall_exit_ctx *ctx) { return exit_fileop(ctx->ret); }

/* setuid and its kin: the ids after the call, read from the task's credentials. */
static __always_inline int exit_setid(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	observe();
	struct setuid_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, EVENT_SETUID, id);
	e->ret = ret;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	fill_creds(&e->creds, task);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_setuid")
int exit_setuid(struct syscall_exit_ctx *ctx) { return exit_setid(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setgid")
int exit_setgid(struct syscall_exit_ctx *ctx) { return exit_setid(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setreuid")
int exit_setreuid(struct syscall_exit_ctx *ctx) { return exit_setid(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setregid")
int exit_setregid(struct syscall_exit_ctx *ctx) { return exit_setid(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setresuid")
int exit_setresuid(struct syscall_exit_ctx *ctx) { return exit_setid(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_setresgid")
int exit_setresgid(struct syscall_exit_ctx *ctx) { return exit_setid(ctx->ret); }

/* setns and unshare: the namespace types the call names. */
static __always_inline int exit_ns(__u32 op, long ret, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	observe();
	struct ns_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, EVENT_NS, id);
	e->ret = ret;
	e->op = op;
	e->flags = flags;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_setns")
int exit_setns(struct syscall_exit_ctx *ctx)
{
	struct pt_regs *regs = user_regs();
	return exit_ns(1, ctx->ret, (__u32)regs->si);
}

SEC("tracepoint/syscalls/sys_exit_unshare")
int exit_unshare(struct syscall_exit_ctx *ctx)
{
	struct pt_regs *regs = user_regs();
	return exit_ns(2, ctx->ret, (__u32)regs->di);
}

/* ptrace requests (<linux/ptrace.h>) worth a record. */
#define PTRACE_TRACEME 0
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_SETREGS 13
#define PTRACE_ATTACH 16
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

SEC("tracepoint/syscalls/sys_exit_ptrace")
int exit_ptrace(struct syscall_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	struct pt_regs *regs = user_regs();
	long request = (long)regs->di;
	switch (request) {
	case PTRACE_TRACEME:
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
	case PTRACE_POKEUSR:
	case PTRACE_SETREGS:
	case PTRACE_SETREGSET:
	case PTRACE_ATTACH:
	case PTRACE_SEIZE:
		break;
	default:
		return 0;
	}
	observe();
	struct ptrace_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, EVENT_PTRACE, id);
	e->ret = ctx->ret;
	e->request = request;
	e->target = (__s32)regs->si;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int exit_module(__u32 op, long ret, __s32 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (id >> 32 == self_pid)
		return 0;
	observe();
	struct module_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, EVENT_MODULE, id);
	e->ret = ret;
	e->op = op;
	e->fd = fd;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int exit_init_module(struct syscall_exit_ctx *ctx) { return exit_module(1, ctx->ret, -1); }

SEC("tracepoint/syscalls/sys_exit_finit_module")
int exit_finit_module(struct syscall_exit_ctx *ctx) { return exit_module(2, ctx->ret, exit_fd()); }
