/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libipcchan - the userspace library over the ipcchan kernel ABI
 * (<linux/ipcchan.h>, shipped beside this header).
 *
 * Error convention, used by every function: a call returns 0, a count or a
 * file descriptor on success and a negative errno value on failure.
 * errno is never the error channel and is left unchanged.
 */
#ifndef LIBIPCCHAN_H
#define LIBIPCCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/ipcchan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's release, encoded like ipcchan_query.module_version. */
#define LIBIPCCHAN_VERSION_NUMBER(maj, min, patch) \
	(((maj) << 16) | ((min) << 8) | (patch))

/* Flags for ipcchan_ctl_open(). */
#define IPCCHAN_CTL_CLOEXEC	0x1u	/* set FD_CLOEXEC on the new fd */

/* Path of the control device. */
#define IPCCHAN_DEVICE_PATH	"/dev/" IPCCHAN_DEVICE_NAME

int ipcchan_ctl_open(unsigned int flags);
int ipcchan_query(int ctl_fd, struct ipcchan_query *q);
unsigned int ipcchan_lib_version(void);

/*
 * Channel attributes at creation; a zero field takes the module's default
 * (see "Channel attributes" in <linux/ipcchan.h>). NULL means all defaults.
 */
struct ipcchan_attr {
	uint32_t msg_size_max;
	uint32_t queue_msgs;
	uint64_t queue_bytes;
};

/*
 * Channels. flags are the IPCCHAN_* bits of the matching ioctl in
 * <linux/ipcchan.h>; nothing here allocates memory.
 */
int ipcchan_create(int ctl_fd, uint64_t flags, const struct ipcchan_attr *attr,
		   int fds[2]);
int ipcchan_open(int ctl_fd, const char *name, uint64_t flags,
		 unsigned int mode, const struct ipcchan_attr *attr);
int ipcchan_unlink(int ctl_fd, const char *name);

/* Send one message; 0 or -errno. */
int ipcchan_send(int fd, const void *buf, size_t len, unsigned int prio,
		 uint64_t flags);
int ipcchan_timedsend(int fd, const void *buf, size_t len, unsigned int prio,
		      uint64_t flags, uint64_t timeout_ns);
int ipcchan_sendv(int fd, const struct ipcchan_iovec *iov, unsigned int iovcnt,
		  unsigned int prio, uint64_t flags, uint64_t timeout_ns);

/*
 * Receive one message: its length (0 also at end of channel: use
 * ipcchan_recv_msg() to tell the two apart by seq) or -errno. prio may be
 * NULL.
 */
ssize_t ipcchan_recv(int fd, void *buf, size_t len, unsigned int *prio,
		     uint64_t flags);
ssize_t ipcchan_timedrecv(int fd, void *buf, size_t len, unsigned int *prio,
			  uint64_t flags, uint64_t timeout_ns);
/* The full form: fills r (creds, seq, timestamp); returns the length. */
ssize_t ipcchan_recv_msg(int fd, struct ipcchan_recv *r);

/* Batches: the number of messages transferred, or -errno. */
int ipcchan_send_batch(int fd, struct ipcchan_msghdr *msgs, unsigned int count,
		       uint64_t flags, uint64_t timeout_ns);
int ipcchan_recv_batch(int fd, struct ipcchan_msghdr *msgs, unsigned int count,
		       uint64_t flags, uint64_t timeout_ns);

/* A channel's state and counters; flags 0 or IPCCHAN_STATS_TX. */
int ipcchan_stats(int fd, struct ipcchan_stats *st, uint64_t flags);

/*
 * Signal this process when a message arrives on the endpoint's empty rx
 * channel (POSIX mq_notify semantics); flags are IPCCHAN_NOTIFY_*. signo
 * is ignored with IPCCHAN_NOTIFY_REMOVE. 0 or -errno.
 */
int ipcchan_notify(int fd, uint64_t flags, int signo, uint64_t value);

#ifdef __cplusplus
}
#endif

#endif /* LIBIPCCHAN_H */
