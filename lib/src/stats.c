// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A channel's state and counters, through an endpoint.
 */
#include <stdint.h>
#include <string.h>

#include "libipcchan.h"
#include "syscall.h"

int ipcchan_stats(int fd, struct ipcchan_stats *st, uint64_t flags)
{
	memset(st, 0, sizeof(*st));
	st->flags = flags;
	return __ipcchan_ioctl(fd, IPCCHAN_IOC_STATS, st);
}
