/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal declarations shared by the files of the ipcchan module.
 *
 * Files and what each owns:
 *   main.c   module init/exit, the /dev/ipcchan misc device, control fops
 *   ioctl.c  table-driven ioctl dispatch (type, direction and size checks)
 *   uabi.c   size-versioned struct copy between user and kernel
 *   limits.c module parameters (limits) and the system-wide counters
 *   query.c  IPCCHAN_IOC_QUERY
 */
#ifndef _IPCCHAN_INTERNAL_H
#define _IPCCHAN_INTERNAL_H

#include <linux/compiler.h>
#include <linux/fs.h>
#include <linux/types.h>
#include <linux/ipcchan.h>

#define IPCCHAN_MODULE_VERSION_NR \
	((IPCCHAN_VERSION_MAJOR << 16) | (IPCCHAN_VERSION_MINOR << 8) | \
	 IPCCHAN_VERSION_PATCH)

/* Features this build of the module implements. */
#define IPCCHAN_FEATURES	IPCCHAN_FEAT_QUERY

/* limits.c */

/**
 * struct ipcchan_limits - administrator-tunable limits
 *
 * Each field is a module parameter, writable through sysfs at any time and
 * bounded to [1, its hard maximum] by limits.c. Readers take a snapshot with
 * ipcchan_limits_read(); no lock protects the fields, each is read once.
 */
struct ipcchan_limits {
	u64 max_msg_size;
	u64 max_queue_msgs;
	u64 max_queue_bytes;
	u64 max_channels;
	u64 max_user_channels;
	u64 max_user_bytes;
};

void ipcchan_limits_read(struct ipcchan_limits *lim);
umode_t ipcchan_dev_mode(void);
u64 ipcchan_nr_channels(void);

/* uabi.c */
int ipcchan_copy_struct_in(void *dst, size_t ksize,
			   const void __user *src, size_t usize);
int ipcchan_copy_struct_out(void __user *dst, size_t usize,
			    const void *src, size_t ksize);
bool ipcchan_mem_is_zero(const void *p, size_t len);

/* ioctl.c */

/**
 * struct ipcchan_ioctl_desc - one ioctl command of one kind of file
 * @cmd:      the full command as published in the uapi header; its type,
 *            number and direction must match, its size is the kernel's
 *            size of the struct.
 * @min_size: first published size of the struct; smaller is -EINVAL.
 * @fn:       handler; @arg is the user pointer, @usize the caller's size
 *            from _IOC_SIZE(), already checked against @min_size and
 *            against PAGE_SIZE.
 */
struct ipcchan_ioctl_desc {
	unsigned int cmd;
	size_t min_size;
	long (*fn)(struct file *file, void __user *arg, size_t usize);
};

long ipcchan_ioctl_dispatch(const struct ipcchan_ioctl_desc *table,
			    size_t n, struct file *file, unsigned int cmd,
			    unsigned long arg);

/* query.c */
long ipcchan_ioctl_query(struct file *file, void __user *arg, size_t usize);

#endif /* _IPCCHAN_INTERNAL_H */
