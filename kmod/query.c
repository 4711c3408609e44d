// SPDX-License-Identifier: GPL-2.0
/*
 * IPCCHAN_IOC_QUERY: who the module is, what it can do, its limits and the
 * caller's current usage, in one size-versioned struct.
 */
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/stddef.h>

#include "ipcchan.h"

/* Userspace relies on these; they may never change. */
static_assert(sizeof(struct ipcchan_query) == 128);
static_assert(IPCCHAN_QUERY_SIZE_VER0 == 128);
static_assert(offsetof(struct ipcchan_query, features) == 16);
static_assert(offsetof(struct ipcchan_query, max_msg_size) == 24);
static_assert(offsetof(struct ipcchan_query, nr_channels) == 72);
static_assert(offsetof(struct ipcchan_query, max_region_size) == 96);
static_assert(offsetof(struct ipcchan_query, reserved) == 120);

static void ipcchan_query_fill(struct ipcchan_query *q, struct file *file)
{
	struct ipcchan_limits lim;

	ipcchan_limits_read(&lim);
	q->abi_version = IPCCHAN_ABI_VERSION;
	q->module_version = IPCCHAN_MODULE_VERSION_NR;
	q->features = IPCCHAN_FEATURES;
	q->max_msg_size = lim.max_msg_size;
	q->max_queue_msgs = lim.max_queue_msgs;
	q->max_queue_bytes = lim.max_queue_bytes;
	q->max_channels = lim.max_channels;
	q->max_user_channels = lim.max_user_channels;
	q->max_user_bytes = lim.max_user_bytes;
	q->nr_channels = ipcchan_nr_channels();
	q->max_region_size = lim.max_region_size;
	q->max_user_region_bytes = lim.max_user_region_bytes;
	ipcchan_user_usage(file->f_cred->uid, &q->user_channels, &q->user_bytes,
			   &q->user_region_bytes);
}

/**
 * ipcchan_ioctl_query() - IPCCHAN_IOC_QUERY handler
 * @file:  the control file
 * @arg:   user pointer to struct ipcchan_query
 * @usize: the caller's size of the struct
 *
 * Context: process context.
 * Return: 0, -EFAULT, -EINVAL (flags or reserved non-zero), -E2BIG.
 */
long ipcchan_ioctl_query(struct file *file, void __user *arg, size_t usize)
{
	struct ipcchan_query q;
	int ret;

	ret = ipcchan_copy_struct_in(&q, sizeof(q), arg, usize);
	if (ret)
		return ret;
	if (q.flags || q.reserved)
		return -EINVAL;

	memset(&q, 0, sizeof(q));
	ipcchan_query_fill(&q, file);
	return ipcchan_copy_struct_out(arg, usize, &q, sizeof(q));
}
