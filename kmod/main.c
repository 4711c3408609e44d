// SPDX-License-Identifier: GPL-2.0
/*
 * ipcchan: kernel-managed message channels and shared pages.
 *
 * This file registers the /dev/ipcchan misc device and implements the
 * control file: opening the device gives a control fd, whose ioctls are
 * listed in ipcchan_ctl_ioctls[]. It holds no lock and no per-fd state:
 * the control fd carries only its opener's credentials (file->f_cred),
 * with which it creates and opens channels (endpoint.c, names.c).
 *
 * Module references: the misc device and every file it creates have
 * .owner = THIS_MODULE, so the module cannot be unloaded while any ipcchan
 * fd is open; rmmod then fails with EAGAIN (EWOULDBLOCK).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "ipcchan.h"

static const struct ipcchan_ioctl_desc ipcchan_ctl_ioctls[] = {
	{ IPCCHAN_IOC_QUERY, IPCCHAN_QUERY_SIZE_VER0, ipcchan_ioctl_query },
	{ IPCCHAN_IOC_CREATE, IPCCHAN_CREATE_SIZE_VER0, ipcchan_ioctl_create },
	{ IPCCHAN_IOC_OPEN, IPCCHAN_OPEN_SIZE_VER0, ipcchan_ioctl_open },
	{ IPCCHAN_IOC_UNLINK, IPCCHAN_UNLINK_SIZE_VER0, ipcchan_ioctl_unlink },
};

static int ipcchan_ctl_open(struct inode *inode, struct file *file)
{
	return stream_open(inode, file);
}

static long ipcchan_ctl_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	return ipcchan_ioctl_dispatch(ipcchan_ctl_ioctls,
				      ARRAY_SIZE(ipcchan_ctl_ioctls),
				      file, cmd, arg);
}

static const struct file_operations ipcchan_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= ipcchan_ctl_open,
	.unlocked_ioctl	= ipcchan_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice ipcchan_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= IPCCHAN_DEVICE_NAME,
	.fops	= &ipcchan_ctl_fops,
};

static int __init ipcchan_init(void)
{
	umode_t mode = ipcchan_dev_mode();
	int ret;

	if (mode == (umode_t)-1) {
		pr_err("dev_mode must be within 0..0777\n");
		return -EINVAL;
	}
	ipcchan_misc.mode = mode;
	ret = ipcchan_names_init();
	if (ret)
		return ret;
	ret = misc_register(&ipcchan_misc);
	if (ret)
		goto out_names;
	pr_info("version %s loaded (abi %d)\n", IPCCHAN_VERSION_STR,
		IPCCHAN_ABI_VERSION);
	return 0;

out_names:
	ipcchan_names_exit();
	return ret;
}

static void __exit ipcchan_exit(void)
{
	misc_deregister(&ipcchan_misc);
	ipcchan_names_exit();
}

module_init(ipcchan_init);
module_exit(ipcchan_exit);

MODULE_DESCRIPTION("ipcchan: kernel-managed message channels and shared pages");
MODULE_AUTHOR("The ipcchan authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(IPCCHAN_VERSION_STR);
