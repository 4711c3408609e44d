/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * System calls in the library's error convention: -errno on failure,
 * errno itself preserved, as liburing does.
 */
#ifndef LIBIPCCHAN_SYSCALL_H
#define LIBIPCCHAN_SYSCALL_H

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>

static inline int __ipcchan_ret(long ret)
{
	int err;

	if (ret >= 0)
		return (int)ret;
	err = errno;
	return -err;
}

static inline int __ipcchan_ioctl(int fd, unsigned long cmd, void *arg)
{
	int saved = errno;
	int ret = __ipcchan_ret(ioctl(fd, cmd, arg));

	errno = saved;
	return ret;
}

static inline int __ipcchan_open(const char *path, int oflags)
{
	int saved = errno;
	int ret = __ipcchan_ret(open(path, oflags));

	errno = saved;
	return ret;
}

#endif /* LIBIPCCHAN_SYSCALL_H */
