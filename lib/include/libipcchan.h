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

#ifdef __cplusplus
}
#endif

#endif /* LIBIPCCHAN_H */
