// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The control device: open it, ask it what the module is.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#include "libipcchan.h"
#include "syscall.h"

int ipcchan_ctl_open(unsigned int flags)
{
	int oflags = O_RDWR;

	if (flags & ~IPCCHAN_CTL_CLOEXEC)
		return -EINVAL;
	if (flags & IPCCHAN_CTL_CLOEXEC)
		oflags |= O_CLOEXEC;
	return __ipcchan_open(IPCCHAN_DEVICE_PATH, oflags);
}

int ipcchan_query(int ctl_fd, struct ipcchan_query *q)
{
	memset(q, 0, sizeof(*q));
	return __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_QUERY, q);
}

unsigned int ipcchan_lib_version(void)
{
	return LIBIPCCHAN_VERSION_NUMBER(LIBIPCCHAN_MAJOR, LIBIPCCHAN_MINOR,
					 LIBIPCCHAN_PATCH);
}
