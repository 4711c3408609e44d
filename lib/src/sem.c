// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Semaphores of a channel: post, wait (blocking, try, with a deadline) and
 * read the value, with SEM_UNDO-like cleanup when asked for.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "libipcchan.h"
#include "syscall.h"

#define NSEC_PER_SEC	1000000000ULL

static int sem_op(int fd, uint32_t op, unsigned int index, uint32_t count,
		  uint64_t flags, uint64_t timeout_ns)
{
	struct ipcchan_sem s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.op = op;
	s.index = index;
	s.count = count;
	if (flags & IPCCHAN_TIMEOUT)
		s.timeout_ns = timeout_ns;
	ret = __ipcchan_ioctl(fd, IPCCHAN_IOC_SEM, &s);
	if (ret < 0)
		return ret;
	return op == IPCCHAN_SEM_GETVALUE ? (int)s.value : 0;
}

int ipcchan_sem_post(int fd, unsigned int index, unsigned int count,
		     uint64_t flags)
{
	return sem_op(fd, IPCCHAN_SEM_POST, index, count, flags, 0);
}

int ipcchan_sem_wait(int fd, unsigned int index, uint64_t flags)
{
	return sem_op(fd, IPCCHAN_SEM_WAIT, index, 0, flags, 0);
}

int ipcchan_sem_trywait(int fd, unsigned int index, uint64_t flags)
{
	return sem_op(fd, IPCCHAN_SEM_WAIT, index, 0, flags | IPCCHAN_NONBLOCK,
		      0);
}

/*
 * An absolute deadline, as sem_clockwait(3): a tv_nsec outside 0..999999999
 * is -EINVAL; a time before the clock's epoch is a deadline long past, one
 * beyond 2^64 ns is never reached.
 */
int ipcchan_sem_timedwait(int fd, unsigned int index, uint64_t flags,
			  const struct timespec *abs_timeout)
{
	uint64_t ns;

	if (!abs_timeout || abs_timeout->tv_nsec < 0 ||
	    abs_timeout->tv_nsec >= (long)NSEC_PER_SEC)
		return -EINVAL;
	if (abs_timeout->tv_sec < 0)
		ns = 0;
	else if ((uint64_t)abs_timeout->tv_sec >
		 (UINT64_MAX - (uint64_t)abs_timeout->tv_nsec) / NSEC_PER_SEC)
		ns = UINT64_MAX;
	else
		ns = (uint64_t)abs_timeout->tv_sec * NSEC_PER_SEC +
		     (uint64_t)abs_timeout->tv_nsec;
	return sem_op(fd, IPCCHAN_SEM_WAIT, index, 0,
		      flags | IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME, ns);
}

int ipcchan_sem_getvalue(int fd, unsigned int index)
{
	return sem_op(fd, IPCCHAN_SEM_GETVALUE, index, 0, 0, 0);
}
