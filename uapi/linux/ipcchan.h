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
 *     * a larger size whose extra bytes are zero: accepted; the kernel
 *       writes back only the bytes it knows and leaves the rest zero;
 *     * a smaller (older) size: the missing fields read as zero on input
 *       and are not written on output.
 *   A command number whose type, direction or number the kernel does not
 *   know fails with -ENOTTY.
 * - Every flags field rejects unknown bits with -EINVAL; every field named
 *   reserved or pad must be zero (-EINVAL otherwise) and reads back as zero.
 * - Structs are fixed-width, naturally aligned and padding-free, so a 32-bit
 *   process issues the same bytes as a 64-bit one and compat_ioctl is the
 *   same handler. Pointers travel as __u64.
 * - Output structs are fully initialised by the kernel; no kernel address
 *   is ever reported.
 * - Timeouts are __u64 nanoseconds.
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
 * @user_bytes:      out: queued bytes charged to the caller's user now.
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
	__u64 reserved[4];
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

#endif /* _UAPI_LINUX_IPCCHAN_H */
