// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Channels on the control fd: create an anonymous channel (or a duplex
 * pair), open or create a named one, unlink a name.
 */
#include <stdint.h>
#include <string.h>

#include "libipcchan.h"
#include "syscall.h"

int ipcchan_create(int ctl_fd, uint64_t flags, const struct ipcchan_attr *attr,
		   int fds[2])
{
	struct ipcchan_create c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.flags = flags;
	if (attr) {
		c.msg_size_max = attr->msg_size_max;
		c.queue_msgs = attr->queue_msgs;
		c.queue_bytes = attr->queue_bytes;
	}
	ret = __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_CREATE, &c);
	if (ret < 0)
		return ret;
	fds[0] = c.fds[0];
	fds[1] = c.fds[1];
	return 0;
}

/*
 * mode and the attributes only mean something to a call that may create the
 * channel; without IPCCHAN_OPEN_CREATE they are not passed on, as open(2)
 * and mq_open(3) ignore mode without O_CREAT.
 */
int ipcchan_open(int ctl_fd, const char *name, uint64_t flags,
		 unsigned int mode, const struct ipcchan_attr *attr)
{
	struct ipcchan_open o;
	int ret;

	memset(&o, 0, sizeof(o));
	o.flags = flags;
	o.name = (uintptr_t)name;
	if (flags & IPCCHAN_OPEN_CREATE) {
		o.mode = mode;
		if (attr) {
			o.msg_size_max = attr->msg_size_max;
			o.queue_msgs = attr->queue_msgs;
			o.queue_bytes = attr->queue_bytes;
		}
	}
	ret = __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_OPEN, &o);
	if (ret < 0)
		return ret;
	return o.fd;
}

int ipcchan_unlink(int ctl_fd, const char *name)
{
	struct ipcchan_unlink u;

	memset(&u, 0, sizeof(u));
	u.name = (uintptr_t)name;
	return __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_UNLINK, &u);
}
