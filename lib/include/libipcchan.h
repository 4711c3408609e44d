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
#include <time.h>
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
 * The shared-page fields came with LIBIPCCHAN_0.2: a program built against
 * 0.1 calls the 0.1 versions of ipcchan_create() and ipcchan_open(), which
 * read only the first three fields.
 */
struct ipcchan_attr {
	uint32_t msg_size_max;
	uint32_t queue_msgs;
	uint64_t queue_bytes;
	/* Shared pages (0.2); 0: none. See ipcchan_map(3). */
	uint64_t region_size;	/* bytes, a multiple of the page size */
	uint32_t slot_size;	/* bytes per slot, a multiple of 64 */
	uint32_t nr_sems;	/* semaphores, 0..IPCCHAN_SEMS_MAX */
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

/*
 * Shared pages (LIBIPCCHAN_0.2; IPCCHAN_FEAT_SHARED in the query): a
 * channel's region, its zero-copy slots and its semaphores.
 */

/* The region, slots and semaphores an endpoint reaches, and their state. */
int ipcchan_region_info(int fd, struct ipcchan_region_info *ri);

/* Flags for ipcchan_map(). */
#define IPCCHAN_MAP_RDONLY	0x1u	/* map read-only even if the fd sends */
#define IPCCHAN_MAP_POPULATE	0x2u	/* fault every page in now */

/* A mapping of an endpoint's whole region, filled by ipcchan_map(). */
struct ipcchan_region {
	void *addr;		/* the mapping; NULL when not mapped */
	size_t size;		/* region_size bytes */
	uint32_t slot_size;	/* bytes per slot; 0: no slots */
	uint32_t nr_slots;
	uint32_t nr_sems;
	int prot;		/* PROT_READ, with PROT_WRITE if writable */
};

/* Map the whole region of fd (MAP_SHARED); unmap it. 0 or -errno. */
int ipcchan_map(int fd, unsigned int flags, struct ipcchan_region *rg);
int ipcchan_unmap(struct ipcchan_region *rg);

/* The address of slot n in a mapping (no check: n < rg->nr_slots). */
static inline void *ipcchan_slot_ptr(const struct ipcchan_region *rg,
				     uint32_t slot)
{
	return (char *)rg->addr + (size_t)slot * rg->slot_size;
}

/*
 * Zero-copy slots. flags are IPCCHAN_NONBLOCK, _TIMEOUT, _ABSTIME and
 * _REALTIME as for a send; timeout_ns is used only with IPCCHAN_TIMEOUT.
 * ipcchan_slot_loan() returns the slot number it loaned (>= 0) or -errno;
 * ipcchan_slot_recv() returns the message's length and sets *slot to the
 * slot now held, or to IPCCHAN_SLOT_NONE for an ordinary message, which it
 * copies to buf.
 */
int ipcchan_slot_loan(int fd, uint64_t flags, uint64_t timeout_ns);
int ipcchan_slot_send(int fd, uint32_t slot, size_t len, unsigned int prio,
		      uint64_t flags, uint64_t timeout_ns);
ssize_t ipcchan_slot_recv(int fd, uint32_t *slot, void *buf, size_t len,
			  unsigned int *prio, uint64_t flags,
			  uint64_t timeout_ns);
int ipcchan_slot_release(int fd, uint32_t slot);

/*
 * Semaphores of a channel, numbered from 0. flags: 0 or IPCCHAN_SEM_UNDO
 * (and IPCCHAN_REALTIME for ipcchan_sem_timedwait(), whose abs_timeout is
 * a deadline on CLOCK_MONOTONIC, or CLOCK_REALTIME with that flag).
 * ipcchan_sem_getvalue() returns the value (>= 0) or -errno.
 */
int ipcchan_sem_post(int fd, unsigned int index, unsigned int count,
		     uint64_t flags);
int ipcchan_sem_wait(int fd, unsigned int index, uint64_t flags);
int ipcchan_sem_trywait(int fd, unsigned int index, uint64_t flags);
int ipcchan_sem_timedwait(int fd, unsigned int index, uint64_t flags,
			  const struct timespec *abs_timeout);
int ipcchan_sem_getvalue(int fd, unsigned int index);

#ifdef __cplusplus
}
#endif

#endif /* LIBIPCCHAN_H */
