// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Zero-copy slots: loan a free slot, send it as a message, receive one
 * without a copy, give one back.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "libipcchan.h"
#include "syscall.h"

int ipcchan_slot_loan(int fd, uint64_t flags, uint64_t timeout_ns)
{
	struct ipcchan_slot_loan l;
	int ret;

	memset(&l, 0, sizeof(l));
	l.flags = flags;
	if (flags & IPCCHAN_TIMEOUT)
		l.timeout_ns = timeout_ns;
	ret = __ipcchan_ioctl(fd, IPCCHAN_IOC_SLOT_LOAN, &l);
	if (ret < 0)
		return ret;
	return (int)l.slot;
}

int ipcchan_slot_send(int fd, uint32_t slot, size_t len, unsigned int prio,
		      uint64_t flags, uint64_t timeout_ns)
{
	struct ipcchan_send s;

	memset(&s, 0, sizeof(s));
	s.flags = flags | IPCCHAN_SEND_SLOT;
	s.len = len;
	s.prio = prio;
	s.slot = slot;
	if (flags & IPCCHAN_TIMEOUT)
		s.timeout_ns = timeout_ns;
	return __ipcchan_ioctl(fd, IPCCHAN_IOC_SEND, &s);
}

ssize_t ipcchan_slot_recv(int fd, uint32_t *slot, void *buf, size_t len,
			  unsigned int *prio, uint64_t flags,
			  uint64_t timeout_ns)
{
	struct ipcchan_recv r;
	int ret;

	if (!slot)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.flags = flags | IPCCHAN_RECV_SLOT;
	r.buf = (uintptr_t)buf;
	r.len = len;
	if (flags & IPCCHAN_TIMEOUT)
		r.timeout_ns = timeout_ns;
	ret = __ipcchan_ioctl(fd, IPCCHAN_IOC_RECV, &r);
	if (ret < 0)
		return ret;
	*slot = r.slot;
	if (prio)
		*prio = r.prio;
	return (ssize_t)r.len;
}

int ipcchan_slot_release(int fd, uint32_t slot)
{
	struct ipcchan_slot_release rel;

	memset(&rel, 0, sizeof(rel));
	rel.slot = slot;
	return __ipcchan_ioctl(fd, IPCCHAN_IOC_SLOT_RELEASE, &rel);
}
