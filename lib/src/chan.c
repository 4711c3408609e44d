// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Channels on the control fd: create an anonymous channel (or a duplex
 * pair), open or create a named one, unlink a name.
 *
 * struct ipcchan_attr grew the shared-page attributes in LIBIPCCHAN_0.2.
 * A program linked against 0.1 passes the 16-byte struct of 0.1, so
 * ipcchan_create() and ipcchan_open() have two versions: the default
 * (@@LIBIPCCHAN_0.2) reads the whole struct, the 0.1 one (bound by old
 * binaries) reads only the fields 0.1 had.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libipcchan.h"
#include "syscall.h"

/* The struct ipcchan_attr of LIBIPCCHAN_0.1. */
struct ipcchan_attr_v01 {
	uint32_t msg_size_max;
	uint32_t queue_msgs;
	uint64_t queue_bytes;
};

/* The 0.1 fields lead the current struct, unchanged. */
_Static_assert(offsetof(struct ipcchan_attr, queue_bytes) ==
	       offsetof(struct ipcchan_attr_v01, queue_bytes),
	       "struct ipcchan_attr must extend the 0.1 layout");
_Static_assert(offsetof(struct ipcchan_attr, region_size) ==
	       sizeof(struct ipcchan_attr_v01),
	       "the 0.2 fields follow the 0.1 ones");

/* A 0.1 caller's attributes as the current struct, new fields zero. */
static const struct ipcchan_attr *attr_from_v01(const struct ipcchan_attr_v01 *old,
						struct ipcchan_attr *a)
{
	if (!old)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->msg_size_max = old->msg_size_max;
	a->queue_msgs = old->queue_msgs;
	a->queue_bytes = old->queue_bytes;
	return a;
}

int __ipcchan_create_v02(int ctl_fd, uint64_t flags,
			 const struct ipcchan_attr *attr, int fds[2]);
int __ipcchan_create_v01(int ctl_fd, uint64_t flags,
			 const struct ipcchan_attr_v01 *attr, int fds[2]);
int __ipcchan_open_v02(int ctl_fd, const char *name, uint64_t flags,
		       unsigned int mode, const struct ipcchan_attr *attr);
int __ipcchan_open_v01(int ctl_fd, const char *name, uint64_t flags,
		       unsigned int mode, const struct ipcchan_attr_v01 *attr);

__asm__(".symver __ipcchan_create_v02, ipcchan_create@@LIBIPCCHAN_0.2");
__asm__(".symver __ipcchan_create_v01, ipcchan_create@LIBIPCCHAN_0.1");
__asm__(".symver __ipcchan_open_v02, ipcchan_open@@LIBIPCCHAN_0.2");
__asm__(".symver __ipcchan_open_v01, ipcchan_open@LIBIPCCHAN_0.1");

int __ipcchan_create_v02(int ctl_fd, uint64_t flags,
			 const struct ipcchan_attr *attr, int fds[2])
{
	struct ipcchan_create c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.flags = flags;
	if (attr) {
		c.msg_size_max = attr->msg_size_max;
		c.queue_msgs = attr->queue_msgs;
		c.queue_bytes = attr->queue_bytes;
		c.region_size = attr->region_size;
		c.slot_size = attr->slot_size;
		c.nr_sems = attr->nr_sems;
	}
	ret = __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_CREATE, &c);
	if (ret < 0)
		return ret;
	fds[0] = c.fds[0];
	fds[1] = c.fds[1];
	return 0;
}

int __ipcchan_create_v01(int ctl_fd, uint64_t flags,
			 const struct ipcchan_attr_v01 *attr, int fds[2])
{
	struct ipcchan_attr a;

	return __ipcchan_create_v02(ctl_fd, flags, attr_from_v01(attr, &a),
				    fds);
}

/*
 * mode and the attributes only mean something to a call that may create the
 * channel; without IPCCHAN_OPEN_CREATE they are not passed on, as open(2)
 * and mq_open(3) ignore mode without O_CREAT.
 */
int __ipcchan_open_v02(int ctl_fd, const char *name, uint64_t flags,
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
			o.region_size = attr->region_size;
			o.slot_size = attr->slot_size;
			o.nr_sems = attr->nr_sems;
		}
	}
	ret = __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_OPEN, &o);
	if (ret < 0)
		return ret;
	return o.fd;
}

int __ipcchan_open_v01(int ctl_fd, const char *name, uint64_t flags,
		       unsigned int mode, const struct ipcchan_attr_v01 *attr)
{
	struct ipcchan_attr a;

	return __ipcchan_open_v02(ctl_fd, name, flags, mode,
				  attr_from_v01(attr, &a));
}

int ipcchan_unlink(int ctl_fd, const char *name)
{
	struct ipcchan_unlink u;

	memset(&u, 0, sizeof(u));
	u.name = (uintptr_t)name;
	return __ipcchan_ioctl(ctl_fd, IPCCHAN_IOC_UNLINK, &u);
}
