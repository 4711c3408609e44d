/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the ipcchan selftests. */
#ifndef IPCCHAN_SELFTEST_COMMON_H
#define IPCCHAN_SELFTEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IPCCHAN_SYSFS_PARAM	"/sys/module/ipcchan/parameters/"

/* Where the guest keeps ipcchan.ko; the harness may override it. */
static inline const char *ipcchan_ko_path(void)
{
	const char *p = getenv("IPCCHAN_KO");

	return p ? p : "/lib/modules/ipcchan.ko";
}

/* Read a module parameter; returns 0 or -errno. */
static inline int ipcchan_param_read(const char *name, unsigned long long *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), IPCCHAN_SYSFS_PARAM "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	*val = strtoull(buf, NULL, 0);
	return 0;
}

/* Write a module parameter; returns 0 or -errno from the write. */
static inline int ipcchan_param_write(const char *name, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), IPCCHAN_SYSFS_PARAM "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

#endif /* IPCCHAN_SELFTEST_COMMON_H */
