/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ipcchan: kernel-managed message channels and shared pages.
 *
 * This header is the ABI between the ipcchan module and userspace. It uses
 * only <linux/types.h>, <linux/const.h> and <linux/ioctl.h> and reads on its own.
 *
 * Object model
 * ------------
 * Opening /dev/ipcchan gives a *control* file descriptor. The control fd
 * answers IPCCHAN_IOC_QUERY and is where channels are created and opened:
 * those ioctls return new file descriptors, one per channel endpoint, the
 * way /dev/kvm returns VM fds. Message channels, shared pages and the mmap'd
 * ring attach to channel fds; the control fd stays a small, stable entry
 * point that only ever gains commands.
 *
 * Conventions every command follows
 * ---------------------------------
 * - Command numbers use type IPCCHAN_IOC_TYPE. The kernel dispatches on
 *   _IOC_NR() and takes the caller's struct size from _IOC_SIZE(), so a
 *   struct can grow by appending fields without a new command:
 *     * a size below the first published size of the struct:  -EINVAL;
 *     * a larger size whose extra bytes are not all zero:       -E2BIG;
 *     * a size above one page:                                -E2BIG;
 *     * a larger size whose extra bytes are zero: accepted; the kernel
 *       writes back only the bytes it knows and leaves the rest zero;
 *     * a smaller (older) size: the missing fields read as zero on input
 *       and are not written on output.
 *   A command number whose type, direction or number the kernel does not
 *   know fails with -ENOTTY.
 * - Every flags field rejects unknown bits with -EINVAL; every field named
 *   reserved or pad must be zero (-EINVAL otherwise) and reads back as zero.
 *   Fields documented as "out" only are ignored on input.
 * - Structs are fixed-width, naturally aligned and padding-free, so a 32-bit
 *   process issues the same bytes as a 64-bit one and compat_ioctl is the
 *   same handler. Pointers travel as __u64.
 * - Output structs are fully initialised by the kernel; no kernel address
 *   is ever reported.
 * - Timeouts are __u64 nanoseconds.
 * - A command returns 0 on success unless its comment says otherwise
 *   (receives return a length, batches a count).
 */
#ifndef _UAPI_LINUX_IPCCHAN_H
#define _UAPI_LINUX_IPCCHAN_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Name of the misc device, below /dev. */
#define IPCCHAN_DEVICE_NAME	"ipcchan"

/*
 * IPCCHAN_ABI_VERSION - the ABI generation. It only changes if a published
 * command changes meaning, which this project promises never to do; new
 * abilities are announced through the features bitmask instead.
 */
#define IPCCHAN_ABI_VERSION	1

/* ioctl type byte (free in Documentation/userspace-api/ioctl/ioctl-number.rst). */
#define IPCCHAN_IOC_TYPE	0xC9

/*
 * Feature bits reported in ipcchan_query.features. A library tests a bit
 * before it uses the matching commands, so it can run on an older module.
 */
/* IPCCHAN_IOC_QUERY exists and reports limits and usage. */
#define IPCCHAN_FEAT_QUERY		_BITULL(0)
/* Anonymous and duplex channels, send/receive, batch, stats, poll. */
#define IPCCHAN_FEAT_CHANNELS		_BITULL(1)
/* Named channels: IPCCHAN_IOC_OPEN, IPCCHAN_IOC_UNLINK, /proc/ipcchan. */
#define IPCCHAN_FEAT_NAMED		_BITULL(2)
/* Signal notification: IPCCHAN_IOC_NOTIFY and fasync (F_SETOWN/O_ASYNC). */
#define IPCCHAN_FEAT_NOTIFY		_BITULL(3)
/*
 * Shared pages: region attributes at creation, mmap of endpoints, zero-copy
 * slots (IPCCHAN_IOC_SLOT_LOAN, _SLOT_RELEASE, IPCCHAN_SEND_SLOT,
 * IPCCHAN_RECV_SLOT), semaphores (IPCCHAN_IOC_SEM) and
 * IPCCHAN_IOC_REGION_INFO. See "Shared pages" below.
 */
#define IPCCHAN_FEAT_SHARED		_BITULL(4)

/**
 * struct ipcchan_query - module identity, limits and the caller's usage
 * @flags:           in: must be 0 (no flags are defined yet).
 * @abi_version:     out: IPCCHAN_ABI_VERSION of the running module.
 * @module_version:  out: the module's release, (major << 16) | (minor << 8)
 *                   | patch; the same number as MODULE_VERSION and the
 *                   library's version.
 * @features:        out: IPCCHAN_FEAT_* bits the running module supports.
 * @max_msg_size:    out: largest message payload, in bytes, a channel may be
 *                   created with (module parameter max_msg_size).
 * @max_queue_msgs:  out: largest message capacity of one channel
 *                   (module parameter max_queue_msgs).
 * @max_queue_bytes: out: largest byte capacity of one channel
 *                   (module parameter max_queue_bytes).
 * @max_channels:    out: channels the whole system may hold
 *                   (module parameter max_channels).
 * @max_user_channels: out: channels one user (real uid of the creator) may
 *                   hold (module parameter max_user_channels).
 * @max_user_bytes:  out: bytes of queued messages one user may have
 *                   charged (module parameter max_user_bytes).
 * @nr_channels:     out: channels that exist now, system-wide.
 * @user_channels:   out: channels charged to the caller's user now.
 * @user_bytes:      out: bytes charged to the caller's user now for queued
 *                   messages (payload + IPCCHAN_MSG_OVERHEAD each).
 * @max_region_size: out: largest shared region one channel (or duplex pair)
 *                   may be created with, bytes (module parameter
 *                   max_region_size). 0 from a module without
 *                   IPCCHAN_FEAT_SHARED.
 * @max_user_region_bytes: out: bytes of shared regions one user (real uid
 *                   of the creator) may hold (max_user_region_bytes).
 * @user_region_bytes: out: bytes of shared regions charged to the caller's
 *                   user now.
 * @reserved:        must be zero on input; zero on output.
 *
 * Limits are read at the time of the call: an administrator may change a
 * module parameter at any time through /sys/module/ipcchan/parameters/.
 * A limit of 0 never appears; every limit is at least 1.
 */
struct ipcchan_query {
	__u64 flags;
	__u32 abi_version;
	__u32 module_version;
	__u64 features;
	__u64 max_msg_size;
	__u64 max_queue_msgs;
	__u64 max_queue_bytes;
	__u64 max_channels;
	__u64 max_user_channels;
	__u64 max_user_bytes;
	__u64 nr_channels;
	__u64 user_channels;
	__u64 user_bytes;
	__u64 max_region_size;
	__u64 max_user_region_bytes;
	__u64 user_region_bytes;
	__u64 reserved;
};

/* First published size of struct ipcchan_query; smaller sizes get -EINVAL. */
#define IPCCHAN_QUERY_SIZE_VER0	128

/*
 * IPCCHAN_IOC_QUERY - fill struct ipcchan_query.
 *
 * Valid on the control fd. Errors: -EFAULT (bad pointer), -EINVAL (size
 * below IPCCHAN_QUERY_SIZE_VER0, unknown flag, non-zero reserved),
 * -E2BIG (size larger than known with non-zero extra bytes, or larger than
 * one page).
 */
#define IPCCHAN_IOC_QUERY	_IOWR(IPCCHAN_IOC_TYPE, 0x00, struct ipcchan_query)

/*
 * Channels
 * ========
 *
 * A channel is a bounded queue of messages. Message boundaries are kept;
 * each message has a priority in 0..IPCCHAN_PRIO_MAX-1 and is received
 * highest priority first, first-in first-out within a priority.
 *
 * A channel is reached through *endpoint* file descriptors. An endpoint may
 * send to one channel (its tx channel) and receive from one (its rx
 * channel):
 *   - IPCCHAN_IOC_CREATE makes an anonymous channel and returns a receive
 *     endpoint and a send endpoint, like pipe(2); with IPCCHAN_CREATE_DUPLEX
 *     it makes two channels and returns two endpoints that each send to the
 *     other, like socketpair(2).
 *   - IPCCHAN_IOC_OPEN opens (and with IPCCHAN_OPEN_CREATE creates) a named
 *     channel and returns an endpoint that sends, receives or both.
 * Endpoints are inherited across fork, passed with SCM_RIGHTS and dup'ed
 * like any fd; any number of processes may send to and receive from one
 * channel (each message is received exactly once). An endpoint is an open
 * file: dup(2), fork and SCM_RIGHTS share it and do not count as further
 * senders or receivers. Endpoints are used
 * through the ioctls below and poll/select/epoll; read(2) and write(2) fail
 * with -EINVAL. Endpoint commands on the control fd, and control commands on
 * an endpoint, fail with -ENOTTY.
 *
 * Lifetime. A channel lives while an endpoint refers to it or, for a named
 * channel, while its name is linked (POSIX mq semantics): a named channel
 * outlives its last close until IPCCHAN_IOC_UNLINK; after unlink its name
 * is free at once and the channel itself lives until its last endpoint
 * closes. Names also die with their IPC namespace: once no process can
 * enter a namespace any more, its names are unlinked within about a
 * second, as POSIX mq queues die with theirs.
 *
 * Hangup. A channel that can gain no new sender (anonymous, or unlinked)
 * and has no send endpoint left is hung up for receivers: they receive
 * what is queued, then end-of-channel (IPCCHAN_IOC_RECV returns 0 with seq
 * 0; poll reports EPOLLHUP). A channel that can gain no new receiver and has no
 * receive endpoint left refuses sends with -EPIPE at once. Blocked callers
 * on either side wake immediately when the last peer closes, or when an
 * unlink makes the channel hung up or broken.
 *
 * Names are 1..IPCCHAN_NAME_MAX bytes, NUL-terminated, without '/', and not
 * "." or "..". They are scoped to the IPC namespace of the process making
 * the call, at the time of the call (as mq_open(3)), not that of the
 * control fd's opener.
 * A named channel has an owner (the creator's effective uid and gid, taken
 * from the credentials the control fd was opened with) and a mode (the
 * permission bits 0777): sending needs write permission, receiving read
 * permission, checked against the control fd's credentials (effective uid,
 * effective and supplementary gids, as SysV IPC does); CAP_IPC_OWNER of
 * those credentials in the namespace's user namespace overrides. The call
 * that creates a channel gets the access it asks for whatever its mode
 * says (as open(2) with O_CREAT). Only the owner or CAP_IPC_OWNER may
 * unlink.
 *
 * A channel that can gain no new receiver and has none left drops what is
 * queued at once (counted in ipcchan_stats.dropped). No SIGPIPE is sent.
 *
 * Readiness (poll, select, epoll) of an endpoint: EPOLLIN when its rx
 * channel has a message queued; EPOLLHUP when that channel is hung up
 * (receive what is left, then end of channel); EPOLLOUT when one more
 * message fits its tx channel (fewer than queue_msgs queued and fewer than
 * queue_bytes bytes); EPOLLERR when its tx channel can never be received
 * from. Every queued message wakes pollers, also when the queue was not
 * empty, so edge-triggered epoll sees each one.
 *
 * Accounting. Creating a channel charges one channel (two for a duplex
 * pair) to the real uid of the control fd's opener (max_user_channels,
 * -EMFILE) and to the system (max_channels, -ENFILE); the query ioctl shows
 * both counts, which tells these apart from running out of descriptors. A
 * queued message charges its payload bytes plus IPCCHAN_MSG_OVERHEAD (its
 * bookkeeping: an empty message is not free) to the real uid that created
 * the sending endpoint (max_user_bytes, -ENOSPC) and its memory to the
 * sending task's memory cgroup, from the moment the send has copied it in;
 * both are returned when it is received or dropped, or its channel is
 * destroyed. A message the cgroup's memory limit cannot take fails the
 * send with -ENOMEM; it never wakes the OOM killer. Channel capacities
 * (queue_bytes) count payload bytes only.
 *
 * Listing. /proc/ipcchan lists the named channels of the reader's IPC
 * namespace, one per line after a header line naming the fields: name
 * (with space, tab, newline and backslash written as \ooo octal escapes,
 * as in /proc/mounts), mode (octal), uid, gid (in the reader's user
 * namespace), msg_size_max,
 * queue_msgs, queue_bytes, queued_msgs, queued_bytes, sent, received,
 * senders, receivers.
 */

/* Longest channel name, in bytes, without the terminating NUL. */
#define IPCCHAN_NAME_MAX	255
/* Priorities are 0 .. IPCCHAN_PRIO_MAX - 1; higher is received first. */
#define IPCCHAN_PRIO_MAX	32768
/* Bytes charged to max_user_bytes per queued message, beyond its payload. */
#define IPCCHAN_MSG_OVERHEAD	128
/* Most messages one IPCCHAN_IOC_SEND_BATCH / RECV_BATCH call may carry. */
#define IPCCHAN_BATCH_MAX	1024
/* Defaults for attributes given as 0 at creation (then bounded by limits). */
#define IPCCHAN_DEFAULT_MSG_SIZE	8192
#define IPCCHAN_DEFAULT_QUEUE_MSGS	64

/* Flags for new file descriptors (IPCCHAN_IOC_CREATE, IPCCHAN_IOC_OPEN). */
#define IPCCHAN_FD_CLOEXEC	_BITULL(0)	/* FD_CLOEXEC on the new fds */
#define IPCCHAN_FD_NONBLOCK	_BITULL(1)	/* O_NONBLOCK on the new fds */

/*
 * Channel attributes, in IPCCHAN_IOC_CREATE and IPCCHAN_IOC_OPEN:
 * @msg_size_max: largest payload of one message, bytes; 0 means
 *   min(IPCCHAN_DEFAULT_MSG_SIZE, max_msg_size). Above the module's
 *   max_msg_size: -EINVAL.
 * @queue_msgs: capacity in messages; 0 means
 *   min(IPCCHAN_DEFAULT_QUEUE_MSGS, max_queue_msgs). Above max_queue_msgs:
 *   -EINVAL.
 * @queue_bytes: capacity in payload bytes; 0 means
 *   min(queue_msgs * msg_size_max, max_queue_bytes). Above
 *   max_queue_bytes, or below msg_size_max: -EINVAL.
 * A message of msg_size_max bytes therefore always fits an empty queue.
 * (With every attribute 0, a create fails with -EINVAL only if the
 * administrator set max_queue_bytes below the default message size.)
 *
 * Shared-page attributes (see "Shared pages"), all 0 for a channel without:
 * @region_size: bytes of shared pages, a multiple of the page size
 *   (sysconf(_SC_PAGESIZE)); 0 means no region. Above max_region_size or
 *   not page-aligned: -EINVAL. Charged to the creator's user
 *   (max_user_region_bytes: -ENOSPC).
 * @slot_size: 0 (no slots), or the size of each zero-copy slot: a multiple
 *   of IPCCHAN_SLOT_ALIGN, at most @region_size; the region holds
 *   region_size / slot_size slots (at most IPCCHAN_SLOTS_MAX), slot n at
 *   offset n * slot_size. Non-zero without a region, or out of these
 *   bounds: -EINVAL.
 * @nr_sems: semaphores, 0..IPCCHAN_SEMS_MAX (-EINVAL above); each starts
 *   at value 0. Semaphores need no region.
 * A duplex pair has one region, one slot pool and one set of semaphores,
 * shared by both directions.
 */

/* IPCCHAN_IOC_CREATE flags, besides IPCCHAN_FD_*. */
#define IPCCHAN_CREATE_DUPLEX	_BITULL(8)

/**
 * struct ipcchan_create - make an anonymous channel (or a duplex pair)
 * @flags:        in: IPCCHAN_FD_CLOEXEC, IPCCHAN_FD_NONBLOCK,
 *                IPCCHAN_CREATE_DUPLEX.
 * @msg_size_max: in: see "Channel attributes"; out: the value in effect.
 * @queue_msgs:   in: see "Channel attributes"; out: the value in effect.
 * @queue_bytes:  in: see "Channel attributes"; out: the value in effect.
 * @fds:          out: without DUPLEX, fds[0] receives and fds[1] sends (as
 *                pipe(2)); with DUPLEX, each sends to the other (as
 *                socketpair(2)), over two channels with the same attributes.
 * @region_size:  in: see "Channel attributes" (shared pages); out: as given.
 * @slot_size:    in: likewise; out: as given.
 * @nr_sems:      in: likewise; out: as given.
 * @reserved:     must be zero.
 *
 * Errors: -EINVAL (flags, attributes, non-zero reserved), -EMFILE
 * (max_user_channels), -ENFILE (max_channels, or the system's file table),
 * -EMFILE (the process's descriptor limit), -ENOSPC
 * (max_user_region_bytes), -ENOMEM, -EFAULT. Nothing is created and no
 * descriptor is installed when the call fails.
 */
struct ipcchan_create {
	__u64 flags;
	__u32 msg_size_max;
	__u32 queue_msgs;
	__u64 queue_bytes;
	__s32 fds[2];
	__u64 region_size;
	__u32 slot_size;
	__u32 nr_sems;
	__u64 reserved[2];
};

#define IPCCHAN_CREATE_SIZE_VER0	64

/* IPCCHAN_IOC_OPEN flags, besides IPCCHAN_FD_*. At least one of SEND/RECV. */
#define IPCCHAN_OPEN_SEND	_BITULL(8)	/* the endpoint sends */
#define IPCCHAN_OPEN_RECV	_BITULL(9)	/* the endpoint receives */
#define IPCCHAN_OPEN_CREATE	_BITULL(10)	/* create if it does not exist */
#define IPCCHAN_OPEN_EXCL	_BITULL(11)	/* with CREATE: fail if it exists */

/**
 * struct ipcchan_open - open or create a named channel
 * @flags:        in: IPCCHAN_OPEN_*, IPCCHAN_FD_*.
 * @name:         in: user pointer to the NUL-terminated name.
 * @mode:         in, with IPCCHAN_OPEN_CREATE: permission bits (<= 0777;
 *                no umask applies). Ignored without CREATE.
 * @msg_size_max: in, used only when this call creates the channel.
 * @queue_msgs:   in, used only when this call creates the channel.
 * @fd:           out: the endpoint.
 * @queue_bytes:  in, used only when this call creates the channel.
 * @created:      out: 1 if this call created the channel, else 0.
 * @pad:          must be zero.
 * @region_size:  in, used only when this call creates the channel (see
 *                "Channel attributes"); IPCCHAN_IOC_REGION_INFO reports
 *                it to later openers.
 * @slot_size:    in, likewise.
 * @nr_sems:      in, likewise.
 * @reserved:     must be zero.
 *
 * The attributes, like @mode, are used only when this call creates the
 * channel and are ignored otherwise; when it creates it, they are written
 * back with the values in effect (defaults resolved). If the result cannot
 * be written back (-EFAULT), the endpoint is closed but a channel this
 * call created stays, as a file open(2) created does.
 *
 * Errors: -ENOENT (no such name, no CREATE), -EEXIST (CREATE|EXCL and it
 * exists), -EACCES (mode does not allow the access asked for),
 * -ENAMETOOLONG, -EINVAL (empty name, '/', "." or "..", unknown flags,
 * neither SEND nor RECV, EXCL without CREATE, mode or attributes when
 * creating, non-zero pad or reserved), -EMFILE / -ENFILE
 * (per-user / system channel limit, or descriptor limits), -ENOSPC
 * (max_user_region_bytes, when creating), -ENOMEM, -EFAULT.
 */
struct ipcchan_open {
	__u64 flags;
	__u64 name;
	__u32 mode;
	__u32 msg_size_max;
	__u32 queue_msgs;
	__s32 fd;
	__u64 queue_bytes;
	__u32 created;
	__u32 pad;
	__u64 region_size;
	__u32 slot_size;
	__u32 nr_sems;
	__u64 reserved[2];
};

#define IPCCHAN_OPEN_SIZE_VER0	80

/**
 * struct ipcchan_unlink - remove a name
 * @flags:    in: must be 0.
 * @name:     in: user pointer to the NUL-terminated name.
 * @reserved: must be zero.
 *
 * Errors: -ENOENT, -EACCES (not the owner, no CAP_IPC_OWNER), -EINVAL,
 * -ENAMETOOLONG, -EFAULT, -ENOMEM.
 */
struct ipcchan_unlink {
	__u64 flags;
	__u64 name;
	__u64 reserved[2];
};

#define IPCCHAN_UNLINK_SIZE_VER0	32

/*
 * Flags shared by the send and receive commands.
 * IPCCHAN_NONBLOCK: do not sleep (as O_NONBLOCK on the endpoint): -EAGAIN.
 *                   It, and O_NONBLOCK, take precedence over IPCCHAN_TIMEOUT.
 * IPCCHAN_TIMEOUT:  sleep at most timeout_ns nanoseconds; then -ETIMEDOUT.
 * IPCCHAN_ABSTIME:  with TIMEOUT, timeout_ns is an absolute deadline on
 *                   CLOCK_MONOTONIC (or CLOCK_REALTIME with IPCCHAN_REALTIME).
 * IPCCHAN_REALTIME: with ABSTIME, the deadline is on CLOCK_REALTIME (POSIX
 *                   mq_timedsend semantics; follows clock_settime).
 * An operation that can complete at once completes, whatever the deadline:
 * a past deadline is only a timeout when the call would have to sleep.
 * Without NONBLOCK or TIMEOUT a call sleeps until it can complete. A signal
 * interrupts a sleeping call: with a timeout it fails with -EINTR; without
 * one it is restarted after the handler if the handler has SA_RESTART, and
 * fails with -EINTR otherwise. An interrupted or timed-out call has sent or
 * received nothing. ABSTIME without TIMEOUT, or REALTIME without ABSTIME,
 * is -EINVAL; timeout_ns is ignored without TIMEOUT.
 */
#define IPCCHAN_NONBLOCK	_BITULL(0)
#define IPCCHAN_TIMEOUT		_BITULL(1)
#define IPCCHAN_ABSTIME		_BITULL(2)
#define IPCCHAN_REALTIME	_BITULL(3)

/* IPCCHAN_IOC_SEND flag: buf points to len struct ipcchan_iovec (gather). */
#define IPCCHAN_SEND_IOV	_BITULL(8)
/*
 * IPCCHAN_IOC_SEND flag: send zero-copy slot @slot, which this endpoint
 * holds (loaned or received), with a payload of @len bytes written in place
 * at the start of the slot; @buf must be 0. See "Shared pages".
 */
#define IPCCHAN_SEND_SLOT	_BITULL(9)

/**
 * struct ipcchan_iovec - one piece of a vectored send
 * @base: user pointer.
 * @len:  bytes.
 */
struct ipcchan_iovec {
	__u64 base;
	__u64 len;
};

/* Most pieces in one vectored send. */
#define IPCCHAN_IOV_MAX		1024

/**
 * struct ipcchan_send - send one message (on an endpoint that sends)
 * @flags:      in: IPCCHAN_NONBLOCK, _TIMEOUT, _ABSTIME, _REALTIME,
 *              IPCCHAN_SEND_IOV or IPCCHAN_SEND_SLOT.
 * @buf:        in: user pointer to the payload (or to the iovec array);
 *              0 with IPCCHAN_SEND_SLOT.
 * @len:        in: payload bytes (or number of iovecs, 0..IPCCHAN_IOV_MAX;
 *              0 sends an empty message). With SEND_SLOT, at most the
 *              slot size (not bounded by msg_size_max).
 * @timeout_ns: in: with IPCCHAN_TIMEOUT.
 * @prio:       in: priority, < IPCCHAN_PRIO_MAX.
 * @slot:       in: with IPCCHAN_SEND_SLOT, the slot to send; must be zero
 *              without it.
 * @reserved:   must be zero.
 *
 * A slot message carries no copy of its payload: it charges only
 * IPCCHAN_MSG_OVERHEAD to the sender's user and counts against the
 * channel's queue_msgs but not its queue_bytes. From a successful send
 * until it is received, the slot is in flight and held by nobody; a send
 * that fails leaves it held by the sender.
 *
 * Errors: -EAGAIN (full, nonblocking), -ETIMEDOUT, -EINTR, -EPIPE (no
 * receiver can ever come), -EMSGSIZE (larger than msg_size_max, or with
 * SEND_SLOT than the slot size), -ENOSPC (the sender's user has
 * max_user_bytes queued), -ENOMEM, -EFAULT, -EINVAL (flags, both IOV and
 * SLOT, prio, iovec count, reserved, non-zero @slot without SEND_SLOT;
 * with SEND_SLOT: non-zero @buf, or a slot this endpoint does not hold),
 * -ENODEV (SEND_SLOT on a channel without slots), -EBADF (endpoint does not
 * send). The bytes are charged as described under "Accounting".
 */
struct ipcchan_send {
	__u64 flags;
	__u64 buf;
	__u64 len;
	__u64 timeout_ns;
	__u32 prio;
	__u32 slot;
	__u64 reserved[2];
};

#define IPCCHAN_SEND_SIZE_VER0	56

/* IPCCHAN_IOC_RECV flags. */
#define IPCCHAN_RECV_PEEK	_BITULL(8)	/* copy the message, leave it queued */
#define IPCCHAN_RECV_CREDS	_BITULL(9)	/* fill pid, uid, gid, timestamp_ns */
#define IPCCHAN_RECV_SLOT	_BITULL(10)	/* take a slot message's slot, no copy */

/* ipcchan_recv.slot of a message that is not a slot message. */
#define IPCCHAN_SLOT_NONE	0xffffffffU

/**
 * struct ipcchan_recv - receive one message (on an endpoint that receives)
 * @flags:        in: IPCCHAN_NONBLOCK, _TIMEOUT, _ABSTIME, _REALTIME,
 *                IPCCHAN_RECV_PEEK, IPCCHAN_RECV_CREDS, IPCCHAN_RECV_SLOT
 *                (not with PEEK).
 * @buf:          in: user pointer to the buffer.
 * @len:          in: buffer size; out: the message's length, also when the
 *                call fails with -EMSGSIZE (the message stays queued).
 * @timeout_ns:   in: with IPCCHAN_TIMEOUT.
 * @prio:         out: the message's priority.
 * @pid:          out, with RECV_CREDS: the sender's process id in the
 *                receiver's pid namespace, 0 if it has none there. Without
 *                RECV_CREDS, @pid, @uid, @gid and @timestamp_ns are 0.
 * @uid:          out, with RECV_CREDS: the sender's effective uid in the
 *                receiver's user namespace (the overflow uid if unmapped).
 * @gid:          out, with RECV_CREDS: likewise, the effective gid.
 * @timestamp_ns: out, with RECV_CREDS: CLOCK_MONOTONIC when it was sent.
 * @seq:          out: the message's sequence number in its channel, from 1
 *                (messages of one sender keep the order of their seq).
 * @slot:         out: with IPCCHAN_RECV_SLOT, the slot of a slot message,
 *                now held by this endpoint (read the payload in place,
 *                then release or send it), or IPCCHAN_SLOT_NONE for an
 *                ordinary message; 0 without RECV_SLOT.
 * @pad:          must be zero.
 * @reserved:     must be zero.
 *
 * Returns the message's length (also written to @len). When every sender
 * is gone and the queue is empty (hangup), returns 0 with @len 0 and @seq
 * 0: end of channel (with PEEK too). A zero-length message returns 0 with
 * @seq non-zero. If the payload or the struct cannot be written back
 * (-EFAULT), the message stays queued, in its place.
 *
 * A slot message received without IPCCHAN_RECV_SLOT (also by PEEK and
 * IPCCHAN_IOC_RECV_BATCH) is copied out of the region into @buf like any
 * message, and its slot goes back to the free pool when it is received: a
 * program that knows nothing of slots still receives everything. With
 * RECV_SLOT, a slot message needs no buffer (@buf and @len in are
 * ignored for it) and an ordinary message is received into @buf as usual.
 *
 * Errors: -EAGAIN (empty, nonblocking), -ETIMEDOUT, -EINTR, -EMSGSIZE,
 * -EFAULT, -EINVAL (flags, PEEK with SLOT, reserved), -ENOMEM (copying a
 * slot message out of the region), -EBADF (endpoint does not receive).
 */
struct ipcchan_recv {
	__u64 flags;
	__u64 buf;
	__u64 len;
	__u64 timeout_ns;
	__u32 prio;
	__u32 pid;
	__u32 uid;
	__u32 gid;
	__u64 timestamp_ns;
	__u64 seq;
	__u32 slot;
	__u32 pad;
	__u64 reserved;
};

#define IPCCHAN_RECV_SIZE_VER0	80

/**
 * struct ipcchan_msghdr - one message of a batch, in user memory
 * @buf:    user pointer to the payload (send) or buffer (receive).
 * @len:    send: payload bytes; receive: in buffer size, out message length.
 * @prio:   send: in; receive: out.
 * @pad:    must be zero on send; zero on receive.
 * @seq:    receive: out, as ipcchan_recv.seq; send: ignored.
 */
struct ipcchan_msghdr {
	__u64 buf;
	__u64 len;
	__u32 prio;
	__u32 pad;
	__u64 seq;
};

/**
 * struct ipcchan_batch - send or receive up to @count messages in one call
 * @flags:      in: IPCCHAN_NONBLOCK, _TIMEOUT, _ABSTIME, _REALTIME.
 * @msgs:       in: user pointer to @count struct ipcchan_msghdr.
 * @count:      in: 1..IPCCHAN_BATCH_MAX.
 * @done:       out: messages sent or received.
 * @timeout_ns: in: with IPCCHAN_TIMEOUT.
 * @reserved:   must be zero.
 *
 * The call sleeps (per @flags) only until the first message can be
 * transferred, then transfers messages in order while that is possible
 * without sleeping. It returns the number transferred (also in @done), or,
 * when none was, the error of the first (with -EMSGSIZE, msgs[0].len holds
 * the needed size). An error after the first message stops the batch and
 * is not reported: the next call meets the same condition and reports it.
 * Receiving: hangup with an empty queue returns 0.
 *
 * Errors (of the first message): as IPCCHAN_IOC_SEND / IPCCHAN_IOC_RECV;
 * -EINVAL also for count 0 or above IPCCHAN_BATCH_MAX, and a send msghdr
 * with non-zero pad.
 */
struct ipcchan_batch {
	__u64 flags;
	__u64 msgs;
	__u32 count;
	__u32 done;
	__u64 timeout_ns;
	__u64 reserved[2];
};

#define IPCCHAN_BATCH_SIZE_VER0	48

/* IPCCHAN_IOC_STATS flag: report the endpoint's tx channel, not its rx. */
#define IPCCHAN_STATS_TX	_BITULL(0)

/**
 * struct ipcchan_stats - one channel's state and counters
 * @flags:          in: 0 or IPCCHAN_STATS_TX (an endpoint that only sends
 *                  reports its tx channel either way); left as given.
 * @msg_size_max:   out: attribute.
 * @queue_msgs:     out: capacity, messages.
 * @queue_bytes:    out: capacity, bytes.
 * @queued_msgs:    out: messages queued now.
 * @queued_bytes:   out: payload bytes queued now.
 * @peak_msgs:      out: most messages ever queued at once.
 * @sent:           out: messages ever queued.
 * @received:       out: messages ever removed by a receive.
 * @dropped:        out: messages discarded unreceived because no receiver
 *                  could ever come (see "Hangup").
 * @senders:        out: endpoints that send to this channel now.
 * @receivers:      out: endpoints that receive from it now.
 * @waiting_senders:   out: tasks sleeping in send now.
 * @waiting_receivers: out: tasks sleeping in receive now.
 * @reserved:       must be zero.
 *
 * sent == received + queued_msgs + dropped at every instant.
 *
 * Errors: -EINVAL (unknown flags, reserved), -EBADF (STATS_TX on an
 * endpoint that does not send), -EFAULT.
 */
struct ipcchan_stats {
	__u64 flags;
	__u64 msg_size_max;
	__u64 queue_msgs;
	__u64 queue_bytes;
	__u64 queued_msgs;
	__u64 queued_bytes;
	__u64 peak_msgs;
	__u64 sent;
	__u64 received;
	__u64 dropped;
	__u32 senders;
	__u32 receivers;
	__u32 waiting_senders;
	__u32 waiting_receivers;
	__u64 reserved[4];
};

#define IPCCHAN_STATS_SIZE_VER0	128

/* IPCCHAN_IOC_NOTIFY flags. */
#define IPCCHAN_NOTIFY_REMOVE	_BITULL(0)	/* drop this process's registration */
#define IPCCHAN_NOTIFY_EXCLUSIVE _BITULL(1)	/* be the only registrant (POSIX) */
#define IPCCHAN_NOTIFY_ONESHOT	_BITULL(2)	/* remove after the first signal */

/**
 * struct ipcchan_notify - signal me when a message arrives
 * @flags:    in: IPCCHAN_NOTIFY_*.
 * @signo:    in: signal to send, 1..64 (SIGRTMAX; ignored with REMOVE).
 *            Any signal is accepted, SIGKILL included, as by mq_notify(3):
 *            the registrant chooses what a message does to it.
 * @pad:      must be zero.
 * @value:    in: delivered in siginfo si_value (si_code SI_MESGQ, si_pid
 *            and si_uid of the sender).
 * @reserved: must be zero.
 *
 * Registers the calling process on the endpoint's rx channel: when a
 * message arrives on an empty queue and no receiver is sleeping, every
 * registered process gets its signal. A process holds at most one
 * registration per channel (a second one replaces the first). An EXCLUSIVE
 * registration fails with -EBUSY if any other process is registered, and
 * while it exists other registrations fail with -EBUSY (POSIX mq_notify).
 * A registration is removed by REMOVE, after firing with ONESHOT, and when
 * its process closes the file it registered through (any fd of it: a
 * registration belongs to the file, not to one descriptor, as with POSIX
 * mq). The signal is sent to the thread that registered (never after that
 * process has exec'ed; if that thread has exited, nothing is sent).
 *
 * fasync: an endpoint that receives, with O_ASYNC and F_SETOWN set, gets
 * SIGIO for every queued message; with F_SETSIG, that signal with si_code
 * POLL_IN and si_fd set (the kernel's SIGIO rules). An endpoint that only
 * sends accepts O_ASYNC and never signals.
 *
 * Errors: -EBUSY, -EINVAL (signo, flags, pad, reserved), -ENOENT (REMOVE
 * without a registration), -EBADF (endpoint does not receive), -ENOMEM,
 * -EFAULT.
 */
struct ipcchan_notify {
	__u64 flags;
	__s32 signo;
	__u32 pad;
	__u64 value;
	__u64 reserved[2];
};

#define IPCCHAN_NOTIFY_SIZE_VER0	40

/*
 * Shared pages
 * ============
 *
 * A channel created with a region_size (IPCCHAN_IOC_CREATE, or
 * IPCCHAN_IOC_OPEN when it creates) owns a region: region_size bytes of
 * zero-filled pages that every process holding one of its endpoints can map.
 * A duplex pair shares one region. The region may be divided into
 * zero-copy slots, and the channel may carry semaphores; slots and
 * semaphores are managed by the kernel, which sees every close and so
 * cleans up after a process that dies.
 *
 * mmap. mmap(2) of an endpoint maps the region: MAP_SHARED only (else
 * -EINVAL); the offset must lie inside the region (else -EINVAL; offsets at
 * and above region_size are reserved for later mappings, such as a ring);
 * a channel without a region: -ENODEV. The mapping may extend past the end
 * of the region: touching a page past it raises SIGBUS, as a file mapping
 * past its end does. An endpoint that sends may map read-write; an
 * endpoint that only receives maps read-only: PROT_WRITE fails with
 * -EACCES, and mprotect(2) cannot add it later (-EACCES). mremap(2) cannot
 * grow a mapping (-EFAULT); being VM_DONTEXPAND, such a mapping is also
 * not locked by mlock(2) or MAP_LOCKED. Every mapping of a region, in any
 * process, sees the same bytes, and process-shared futexes (FUTEX_WAIT /
 * FUTEX_WAKE without FUTEX_PRIVATE_FLAG) work on them.
 * The pages are charged to the memory cgroup of the process that first
 * touches each (a region's size is a ceiling, not an up-front
 * allocation), and the region's size to its creator's user at creation
 * (max_user_region_bytes) until the region itself goes (its last channel
 * and endpoint closed); pages that mappings keep alive after that count
 * only against the memory cgroup, as MAP_SHARED|MAP_ANONYMOUS memory
 * does. A mapping keeps the pages alive on its own: closing the fd,
 * unlinking the name, or every other process exiting leaves a mapping
 * valid. fork(2): the child inherits the mapping and shares the pages
 * (MAP_SHARED semantics); use madvise(MADV_DONTFORK) to prevent that.
 *
 * Zero-copy slots. A region with a slot_size is an array of slots, slot n
 * at byte offset n * slot_size. Each slot is at any moment free, held by
 * one endpoint (loaned to it, or received by it), or in flight (queued in a
 * channel of the region). A sender:
 *   1. IPCCHAN_IOC_SLOT_LOAN: takes a free slot (sleeping, failing with
 *      -EAGAIN or timing out while none is free, like a send to a full
 *      queue);
 *   2. writes the payload in place in its mapping;
 *   3. IPCCHAN_IOC_SEND with IPCCHAN_SEND_SLOT: the message carries the
 *      slot, not the bytes (the kernel copies nothing).
 * A receiver:
 *   4. IPCCHAN_IOC_RECV with IPCCHAN_RECV_SLOT: gets the slot number and
 *      length and now holds the slot;
 *   5. reads the payload in place;
 *   6. IPCCHAN_IOC_SLOT_RELEASE gives it back to the free pool (or it sends
 *      the slot on, as a reply, with SEND_SLOT).
 * Ownership is per endpoint *file* (the open file description: dup(2),
 * fork and SCM_RIGHTS share it, like OFD locks): only the endpoint that
 * holds a slot may send or release it; anything else is -EINVAL and changes
 * nothing. When an endpoint file is released (its last descriptor closes,
 * for instance because its process died), every slot it holds returns to
 * the free pool; slots queued in a channel that no receiver can ever come
 * to return when the queue is dropped (see "Hangup"); both are counted in
 * ipcchan_region_info.slots_reclaimed. No user barrier is needed: what the
 * sender wrote to a slot before IPCCHAN_IOC_SEND is visible to the receiver
 * after its IPCCHAN_IOC_RECV returns (release and acquire through the
 * channel's lock), and likewise from a SLOT_RELEASE to the next LOAN of
 * that slot. The kernel never reads or writes a slot's bytes, except to
 * copy a slot message out for a receive without RECV_SLOT.
 *
 * Semaphores. A channel created with nr_sems has that many counting
 * semaphores, numbered from 0, each starting at 0 and bounded by
 * IPCCHAN_SEM_VALUE_MAX, shared by every endpoint of the channel (or duplex
 * pair), operated on with IPCCHAN_IOC_SEM: post, wait (blocking,
 * nonblocking or with a timeout on CLOCK_MONOTONIC or CLOCK_REALTIME, as
 * sends), and reading the value. An operation with IPCCHAN_SEM_UNDO is
 * recorded against the endpoint file, like SysV SEM_UNDO: when the file is
 * released, every unit it took with UNDO and did not give back with UNDO is
 * given back (and every unit it posted with UNDO and did not take back is
 * taken away, the value staying at least 0). A process that dies holding a
 * lock built on a semaphore with UNDO therefore cannot wedge its peers.
 */

/* Slot sizes are multiples of this (a cache line). */
#define IPCCHAN_SLOT_ALIGN	64
/* Most slots one region may hold. */
#define IPCCHAN_SLOTS_MAX	65536
/* Most semaphores one channel (or duplex pair) may carry. */
#define IPCCHAN_SEMS_MAX	64
/* Largest value of a semaphore (SEM_VALUE_MAX of POSIX). */
#define IPCCHAN_SEM_VALUE_MAX	0x7fffffffU

/**
 * struct ipcchan_slot_loan - take a free slot (on an endpoint that sends)
 * @flags:      in: IPCCHAN_NONBLOCK, _TIMEOUT, _ABSTIME, _REALTIME: how long
 *              to wait for a free slot, as for a send (O_NONBLOCK on the
 *              endpoint counts as IPCCHAN_NONBLOCK, as for a send).
 * @timeout_ns: in: with IPCCHAN_TIMEOUT.
 * @slot:       out: the slot now held by this endpoint.
 * @pad:        must be zero.
 * @offset:     out: its byte offset in the region (slot * slot_size).
 * @size:       out: its size (slot_size).
 * @reserved:   must be zero.
 *
 * The slot's bytes are what its last user left there; the kernel does not
 * clear them.
 *
 * Errors: -EAGAIN (none free, nonblocking), -ETIMEDOUT, -EINTR, -ENODEV (the
 * channel has no slots), -EBADF (endpoint does not send), -EINVAL (flags,
 * pad, reserved), -EFAULT (the slot, loaned, is given back).
 */
struct ipcchan_slot_loan {
	__u64 flags;
	__u64 timeout_ns;
	__u32 slot;
	__u32 pad;
	__u64 offset;
	__u64 size;
	__u64 reserved[2];
};

#define IPCCHAN_SLOT_LOAN_SIZE_VER0	56

/**
 * struct ipcchan_slot_release - give a held slot back to the free pool
 * @flags:    in: must be 0.
 * @slot:     in: a slot this endpoint holds (loaned and not sent, or
 *            received with IPCCHAN_RECV_SLOT).
 * @pad:      must be zero.
 * @reserved: must be zero.
 *
 * Errors: -EINVAL (a slot out of range, free, in flight or held by another
 * endpoint; flags, pad, reserved), -ENODEV (the channel has no slots),
 * -EFAULT.
 */
struct ipcchan_slot_release {
	__u64 flags;
	__u32 slot;
	__u32 pad;
	__u64 reserved[2];
};

#define IPCCHAN_SLOT_RELEASE_SIZE_VER0	32

/* IPCCHAN_IOC_SEM operations. */
#define IPCCHAN_SEM_POST	1	/* add @count (>= 1) to the value */
#define IPCCHAN_SEM_WAIT	2	/* take 1, sleeping while the value is 0 */
#define IPCCHAN_SEM_GETVALUE	3	/* read the value */

/* IPCCHAN_IOC_SEM flag (with POST or WAIT): undo on release (SEM_UNDO). */
#define IPCCHAN_SEM_UNDO	_BITULL(8)

/**
 * struct ipcchan_sem - operate on one semaphore (any endpoint)
 * @flags:      in: IPCCHAN_SEM_UNDO; with WAIT also IPCCHAN_NONBLOCK (a
 *              trywait: -EAGAIN at 0), _TIMEOUT, _ABSTIME, _REALTIME, as
 *              for a send. O_NONBLOCK on the endpoint does not apply to
 *              semaphores.
 * @op:         in: IPCCHAN_SEM_POST, IPCCHAN_SEM_WAIT, IPCCHAN_SEM_GETVALUE.
 * @index:      in: the semaphore, < nr_sems.
 * @count:      in: with POST, units to add (>= 1); must be 0 otherwise.
 * @value:      out: the value after the operation.
 * @timeout_ns: in: with WAIT and IPCCHAN_TIMEOUT.
 * @reserved:   must be zero.
 *
 * A post wakes waiters; each wait takes one unit. A post that would raise
 * the value past IPCCHAN_SEM_VALUE_MAX fails with -EOVERFLOW and changes
 * nothing. A wait interrupted by a signal has taken nothing.
 *
 * Errors: -EAGAIN, -ETIMEDOUT, -EINTR (a waiting WAIT, as for a send),
 * -EOVERFLOW, -EINVAL (op, index out of range (also with no semaphores),
 * count, flags not allowed with op, reserved), -ENOMEM (the first UNDO
 * operation of an endpoint), -EFAULT (the struct cannot be read; or the
 * result of a WAIT or GETVALUE cannot be written back, and a WAIT then
 * gives its unit back). A POST whose result cannot be written back has
 * posted and returns 0: a retry would post twice.
 */
struct ipcchan_sem {
	__u64 flags;
	__u32 op;
	__u32 index;
	__u32 count;
	__u32 value;
	__u64 timeout_ns;
	__u64 reserved[2];
};

#define IPCCHAN_SEM_SIZE_VER0	48

/* ipcchan_region_info.prot bits: what mmap of this endpoint may ask for. */
#define IPCCHAN_PROT_READ	_BITULL(0)
#define IPCCHAN_PROT_WRITE	_BITULL(1)

/**
 * struct ipcchan_region_info - an endpoint's region, slots and semaphores
 * @flags:           in: must be 0.
 * @region_size:     out: bytes (0: no region; mmap fails with -ENODEV).
 * @slot_size:       out: bytes per slot (0: no slots).
 * @nr_slots:        out: slots in the region.
 * @nr_sems:         out: semaphores.
 * @pad:             must be zero.
 * @prot:            out: IPCCHAN_PROT_* this endpoint may map with.
 * @slots_free:      out: slots free now.
 * @slots_held:      out: slots held by some endpoint now (loaned or
 *                   received).
 * @slots_in_flight: out: slots queued or being received now.
 * @slots_held_here: out: of @slots_held, those this endpoint holds.
 * @loans:           out: slots ever loaned.
 * @slots_reclaimed: out: slots ever returned to the pool by the kernel:
 *                   held by a released endpoint, or queued in a channel
 *                   whose queue was dropped.
 * @reserved:        must be zero.
 *
 * slots_free + slots_held + slots_in_flight == nr_slots at every instant.
 *
 * Errors: -EINVAL (flags, reserved), -EFAULT.
 */
struct ipcchan_region_info {
	__u64 flags;
	__u64 region_size;
	__u32 slot_size;
	__u32 nr_slots;
	__u32 nr_sems;
	__u32 pad;
	__u64 prot;
	__u64 slots_free;
	__u64 slots_held;
	__u64 slots_in_flight;
	__u64 slots_held_here;
	__u64 loans;
	__u64 slots_reclaimed;
	__u64 reserved[4];
};

#define IPCCHAN_REGION_INFO_SIZE_VER0	120

/* Commands on the control fd. */
#define IPCCHAN_IOC_CREATE	_IOWR(IPCCHAN_IOC_TYPE, 0x01, struct ipcchan_create)
#define IPCCHAN_IOC_OPEN	_IOWR(IPCCHAN_IOC_TYPE, 0x02, struct ipcchan_open)
#define IPCCHAN_IOC_UNLINK	_IOW(IPCCHAN_IOC_TYPE, 0x03, struct ipcchan_unlink)

/* Commands on an endpoint fd. */
#define IPCCHAN_IOC_SEND	_IOW(IPCCHAN_IOC_TYPE, 0x10, struct ipcchan_send)
#define IPCCHAN_IOC_RECV	_IOWR(IPCCHAN_IOC_TYPE, 0x11, struct ipcchan_recv)
#define IPCCHAN_IOC_SEND_BATCH	_IOWR(IPCCHAN_IOC_TYPE, 0x12, struct ipcchan_batch)
#define IPCCHAN_IOC_RECV_BATCH	_IOWR(IPCCHAN_IOC_TYPE, 0x13, struct ipcchan_batch)
#define IPCCHAN_IOC_STATS	_IOWR(IPCCHAN_IOC_TYPE, 0x14, struct ipcchan_stats)
#define IPCCHAN_IOC_NOTIFY	_IOW(IPCCHAN_IOC_TYPE, 0x15, struct ipcchan_notify)
#define IPCCHAN_IOC_SLOT_LOAN	_IOWR(IPCCHAN_IOC_TYPE, 0x16, struct ipcchan_slot_loan)
#define IPCCHAN_IOC_SLOT_RELEASE _IOW(IPCCHAN_IOC_TYPE, 0x17, struct ipcchan_slot_release)
#define IPCCHAN_IOC_SEM		_IOWR(IPCCHAN_IOC_TYPE, 0x18, struct ipcchan_sem)
#define IPCCHAN_IOC_REGION_INFO	_IOWR(IPCCHAN_IOC_TYPE, 0x19, struct ipcchan_region_info)

#endif /* _UAPI_LINUX_IPCCHAN_H */
