// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide limits and counters.
 *
 * The limits are module parameters, readable and writable by root through
 * /sys/module/ipcchan/parameters/ at any time. A write outside
 * [1, hard maximum] is refused with -EINVAL and changes nothing. No lock
 * protects them: writers use WRITE_ONCE(), readers take one READ_ONCE()
 * snapshot per operation (ipcchan_limits_read()), so an operation never
 * sees two different values of one limit. A lowered limit applies to the
 * next creation or send; it never evicts what is already queued.
 */
#include <linux/atomic.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/stat.h>

#include "ipcchan.h"

static struct ipcchan_limits ipcchan_limits = {
	.max_msg_size		= SZ_1M,
	.max_queue_msgs		= 1024,
	.max_queue_bytes	= SZ_16M,
	.max_channels		= 65536,
	.max_user_channels	= 4096,
	.max_user_bytes		= SZ_256M,
	.max_region_size	= SZ_64M,
	.max_user_region_bytes	= SZ_256M,
};

/* Channels that exist now, system-wide. */
static atomic64_t ipcchan_channels = ATOMIC64_INIT(0);

/**
 * struct ipcchan_limit_param - a bounded u64 module parameter
 * @val:       the limit it sets
 * @hard_max:  largest value an administrator may set
 */
struct ipcchan_limit_param {
	u64 *val;
	u64 hard_max;
};

static int ipcchan_limit_set(const char *buf, const struct kernel_param *kp)
{
	const struct ipcchan_limit_param *p = kp->arg;
	u64 v;
	int ret;

	ret = kstrtou64(buf, 0, &v);
	if (ret)
		return ret;
	if (v < 1 || v > p->hard_max)
		return -EINVAL;
	WRITE_ONCE(*p->val, v);
	return 0;
}

static int ipcchan_limit_get(char *buf, const struct kernel_param *kp)
{
	const struct ipcchan_limit_param *p = kp->arg;

	return scnprintf(buf, PAGE_SIZE, "%llu\n", READ_ONCE(*p->val));
}

static const struct kernel_param_ops ipcchan_limit_ops = {
	.set = ipcchan_limit_set,
	.get = ipcchan_limit_get,
};

/* A sysfs write to a limit is checked against its hard maximum here. */
static const struct ipcchan_limit_param ipcchan_limit_params[] = {
	{ &ipcchan_limits.max_msg_size,		SZ_64M },
	{ &ipcchan_limits.max_queue_msgs,	65536 },
	{ &ipcchan_limits.max_queue_bytes,	SZ_1G },
	{ &ipcchan_limits.max_channels,		1 << 24 },
	{ &ipcchan_limits.max_user_channels,	1 << 24 },
	{ &ipcchan_limits.max_user_bytes,	1ULL << 40 },
	{ &ipcchan_limits.max_region_size,	SZ_1G },
	{ &ipcchan_limits.max_user_region_bytes, 1ULL << 40 },
};

module_param_cb(max_msg_size, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[0], 0644);
MODULE_PARM_DESC(max_msg_size,
		 "Largest message payload a channel may have, bytes (1..64M)");
module_param_cb(max_queue_msgs, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[1], 0644);
MODULE_PARM_DESC(max_queue_msgs,
		 "Largest message capacity of one channel (1..65536)");
module_param_cb(max_queue_bytes, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[2], 0644);
MODULE_PARM_DESC(max_queue_bytes,
		 "Largest byte capacity of one channel (1..1G)");
module_param_cb(max_channels, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[3], 0644);
MODULE_PARM_DESC(max_channels, "Channels the whole system may hold (1..16M)");
module_param_cb(max_user_channels, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[4], 0644);
MODULE_PARM_DESC(max_user_channels, "Channels one user may hold (1..16M)");
module_param_cb(max_user_bytes, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[5], 0644);
MODULE_PARM_DESC(max_user_bytes,
		 "Queued bytes one user may have charged (1..1T)");
module_param_cb(max_region_size, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[6], 0644);
MODULE_PARM_DESC(max_region_size,
		 "Largest shared region of one channel, bytes (1..1G)");
module_param_cb(max_user_region_bytes, &ipcchan_limit_ops,
		(void *)&ipcchan_limit_params[7], 0644);
MODULE_PARM_DESC(max_user_region_bytes,
		 "Shared region bytes one user may hold (1..1T)");

static ushort dev_mode = 0666;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Permissions of /dev/ipcchan (default 0666; 0..0777)");

/**
 * ipcchan_limits_read() - take a snapshot of the module-wide limits
 * @lim: filled with one read of each limit
 *
 * Context: any.
 */
void ipcchan_limits_read(struct ipcchan_limits *lim)
{
	lim->max_msg_size = READ_ONCE(ipcchan_limits.max_msg_size);
	lim->max_queue_msgs = READ_ONCE(ipcchan_limits.max_queue_msgs);
	lim->max_queue_bytes = READ_ONCE(ipcchan_limits.max_queue_bytes);
	lim->max_channels = READ_ONCE(ipcchan_limits.max_channels);
	lim->max_user_channels = READ_ONCE(ipcchan_limits.max_user_channels);
	lim->max_user_bytes = READ_ONCE(ipcchan_limits.max_user_bytes);
	lim->max_region_size = READ_ONCE(ipcchan_limits.max_region_size);
	lim->max_user_region_bytes =
		READ_ONCE(ipcchan_limits.max_user_region_bytes);
}

/**
 * ipcchan_dev_mode() - permissions for /dev/ipcchan
 *
 * Return: the dev_mode parameter, or -1 cast to umode_t if it has bits
 * outside 0777 (the module then refuses to load).
 */
umode_t ipcchan_dev_mode(void)
{
	if (dev_mode & ~0777)
		return (umode_t)-1;
	return dev_mode;
}

/**
 * ipcchan_counter_charge() - add @n to @counter unless it would pass @limit
 * @counter: the usage counter
 * @n:       amount to add
 * @limit:   the limit it may reach but not pass
 *
 * Context: any.
 * Return: true if charged.
 */
bool ipcchan_counter_charge(atomic64_t *counter, u64 n, u64 limit)
{
	s64 old = atomic64_read(counter);

	do {
		if ((u64)old + n > limit || (u64)old + n < (u64)old)
			return false;
	} while (!atomic64_try_cmpxchg(counter, &old, old + n));
	return true;
}

/**
 * ipcchan_channels_charge() - count one more channel system-wide
 * @limit: max_channels
 *
 * Return: 0, or -ENFILE at the limit.
 */
int ipcchan_channels_charge(u64 limit)
{
	return ipcchan_counter_charge(&ipcchan_channels, 1, limit) ? 0 : -ENFILE;
}

void ipcchan_channels_uncharge(void)
{
	atomic64_dec(&ipcchan_channels);
}

/**
 * ipcchan_nr_channels() - channels that exist now, system-wide
 *
 * Return: the count.
 */
u64 ipcchan_nr_channels(void)
{
	return atomic64_read(&ipcchan_channels);
}
