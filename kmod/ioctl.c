// SPDX-License-Identifier: GPL-2.0
/*
 * Table-driven ioctl dispatch.
 *
 * Each kind of ipcchan file (the control fd now, channel fds later) owns a
 * table of struct ipcchan_ioctl_desc. The dispatcher finds the command by
 * _IOC_NR(), then requires the type and direction to match the published
 * command exactly (-ENOTTY otherwise, as for an unknown number), and checks
 * the caller's struct size: below the first published size is -EINVAL,
 * above one page is -E2BIG. Handlers then see a size they can hand to
 * ipcchan_copy_struct_in()/out() and nothing else to validate about it.
 *
 * The same function serves native and compat callers: every struct is
 * fixed-width and padding-free, and compat_ptr_ioctl() converts the pointer.
 */
#include <linux/errno.h>
#include <linux/ioctl.h>
#include <linux/mm.h>

#include "ipcchan.h"

static const struct ipcchan_ioctl_desc *
ipcchan_ioctl_find(const struct ipcchan_ioctl_desc *table, size_t n,
		   unsigned int cmd)
{
	size_t i;

	if (_IOC_TYPE(cmd) != IPCCHAN_IOC_TYPE)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned int known = table[i].cmd;

		if (_IOC_NR(known) == _IOC_NR(cmd) &&
		    _IOC_DIR(known) == _IOC_DIR(cmd))
			return &table[i];
	}
	return NULL;
}

/**
 * ipcchan_ioctl_dispatch() - validate an ioctl command and run its handler
 * @table: the commands of this kind of file
 * @n:     number of entries in @table
 * @file:  the file the ioctl was issued on
 * @cmd:   the command as the caller encoded it
 * @arg:   the argument, a user pointer for every ipcchan command
 *
 * Context: process context.
 * Return: the handler's result; -ENOTTY for an unknown command; -EINVAL or
 * -E2BIG for a bad struct size.
 */
long ipcchan_ioctl_dispatch(const struct ipcchan_ioctl_desc *table,
			    size_t n, struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	const struct ipcchan_ioctl_desc *desc;
	size_t usize = _IOC_SIZE(cmd);

	desc = ipcchan_ioctl_find(table, n, cmd);
	if (!desc)
		return -ENOTTY;
	if (usize < desc->min_size)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	return desc->fn(file, (void __user *)arg, usize);
}
