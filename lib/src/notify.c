// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Signal notification: register (or remove) the calling process for a
 * signal when a message arrives on an endpoint's empty rx channel.
 */
#include <stdint.h>
#include <string.h>

#include "libipcchan.h"
#include "syscall.h"

int ipcchan_notify(int fd, uint64_t flags, int signo, uint64_t value)
{
	struct ipcchan_notify n;

	memset(&n, 0, sizeof(n));
	n.flags = flags;
	n.signo = signo;
	n.value = value;
	return __ipcchan_ioctl(fd, IPCCHAN_IOC_NOTIFY, &n);
}
