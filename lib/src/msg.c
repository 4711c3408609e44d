// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Messages on an endpoint: send (plain, timed, gathered), receive (plain,
 * timed, full form) and batches of either.
 */
#include <stdint.h>
#include <string.h>

#include "libipcchan.h"
#include "syscall.h"

static int send_one(int fd, uint64_t flags, const void *buf, uint64_t len,
		    unsigned int prio, uint64_t timeout_ns)
{
	struct ipcchan_send s;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.buf = (uintptr_t)buf;
	s.len = len;
	s.timeout_ns = timeout_ns;
	s.prio = prio;
	return __ipcchan_ioctl(fd, IPCCHAN_IOC_SEND, &s);
}

int ipcchan_send(int fd, const void *buf, size_t len, unsigned int prio,
		 uint64_t flags)
{
	return send_one(fd, flags, buf, len, prio, 0);
}

int ipcchan_timedsend(int fd, const void *buf, size_t len, unsigned int prio,
		      uint64_t flags, uint64_t timeout_ns)
{
	return send_one(fd, flags | IPCCHAN_TIMEOUT, buf, len, prio,
			timeout_ns);
}

int ipcchan_sendv(int fd, const struct ipcchan_iovec *iov, unsigned int iovcnt,
		  unsigned int prio, uint64_t flags, uint64_t timeout_ns)
{
	if (!(flags & IPCCHAN_TIMEOUT))
		timeout_ns = 0;
	return send_one(fd, flags | IPCCHAN_SEND_IOV, iov, iovcnt, prio,
			timeout_ns);
}

static ssize_t recv_one(int fd, void *buf, size_t len, unsigned int *prio,
			uint64_t flags, uint64_t timeout_ns)
{
	struct ipcchan_recv r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.flags = flags;
	r.buf = (uintptr_t)buf;
	r.len = len;
	r.timeout_ns = timeout_ns;
	ret = __ipcchan_ioctl(fd, IPCCHAN_IOC_RECV, &r);
	if (ret < 0)
		return ret;
	if (prio)
		*prio = r.prio;
	return (ssize_t)r.len;
}

ssize_t ipcchan_recv(int fd, void *buf, size_t len, unsigned int *prio,
		     uint64_t flags)
{
	return recv_one(fd, buf, len, prio, flags, 0);
}

ssize_t ipcchan_timedrecv(int fd, void *buf, size_t len, unsigned int *prio,
			  uint64_t flags, uint64_t timeout_ns)
{
	return recv_one(fd, buf, len, prio, flags | IPCCHAN_TIMEOUT,
			timeout_ns);
}

ssize_t ipcchan_recv_msg(int fd, struct ipcchan_recv *r)
{
	int ret = __ipcchan_ioctl(fd, IPCCHAN_IOC_RECV, r);

	if (ret < 0)
		return ret;
	return (ssize_t)r->len;
}

static int batch(int fd, unsigned long cmd, struct ipcchan_msghdr *msgs,
		 unsigned int count, uint64_t flags, uint64_t timeout_ns)
{
	struct ipcchan_batch b;

	memset(&b, 0, sizeof(b));
	b.flags = flags;
	b.msgs = (uintptr_t)msgs;
	b.count = count;
	if (flags & IPCCHAN_TIMEOUT)
		b.timeout_ns = timeout_ns;
	return __ipcchan_ioctl(fd, cmd, &b);
}

int ipcchan_send_batch(int fd, struct ipcchan_msghdr *msgs, unsigned int count,
		       uint64_t flags, uint64_t timeout_ns)
{
	return batch(fd, IPCCHAN_IOC_SEND_BATCH, msgs, count, flags,
		     timeout_ns);
}

int ipcchan_recv_batch(int fd, struct ipcchan_msghdr *msgs, unsigned int count,
		       uint64_t flags, uint64_t timeout_ns)
{
	return batch(fd, IPCCHAN_IOC_RECV_BATCH, msgs, count, flags,
		     timeout_ns);
}
