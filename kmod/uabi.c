// SPDX-License-Identifier: GPL-2.0
/*
 * Size-versioned structs between userspace and the module.
 *
 * Every ioctl struct may grow by appending fields. The caller's size comes
 * from _IOC_SIZE() of the command; the rules (also in the uapi header) are
 * those of copy_struct_from_user(): a shorter struct is zero-extended, a
 * longer one is accepted only if its extra bytes are zero (-E2BIG
 * otherwise). On the way out only the bytes both sides know are written.
 */
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "ipcchan.h"

/*
 * The ABI's sizes and the offsets userspace relies on. The first published
 * size of each struct is its size today; a struct grows only by appending.
 */
static_assert(sizeof(struct ipcchan_create) == IPCCHAN_CREATE_SIZE_VER0);
static_assert(sizeof(struct ipcchan_open) == IPCCHAN_OPEN_SIZE_VER0);
static_assert(sizeof(struct ipcchan_unlink) == IPCCHAN_UNLINK_SIZE_VER0);
static_assert(sizeof(struct ipcchan_send) == IPCCHAN_SEND_SIZE_VER0);
static_assert(sizeof(struct ipcchan_recv) == IPCCHAN_RECV_SIZE_VER0);
static_assert(sizeof(struct ipcchan_batch) == IPCCHAN_BATCH_SIZE_VER0);
static_assert(sizeof(struct ipcchan_stats) == IPCCHAN_STATS_SIZE_VER0);
static_assert(sizeof(struct ipcchan_notify) == IPCCHAN_NOTIFY_SIZE_VER0);
static_assert(sizeof(struct ipcchan_slot_loan) == IPCCHAN_SLOT_LOAN_SIZE_VER0);
static_assert(sizeof(struct ipcchan_slot_release) ==
	      IPCCHAN_SLOT_RELEASE_SIZE_VER0);
static_assert(sizeof(struct ipcchan_sem) == IPCCHAN_SEM_SIZE_VER0);
static_assert(sizeof(struct ipcchan_region_info) ==
	      IPCCHAN_REGION_INFO_SIZE_VER0);
static_assert(offsetof(struct ipcchan_create, region_size) == 32);
static_assert(offsetof(struct ipcchan_open, region_size) == 48);
static_assert(offsetof(struct ipcchan_send, slot) == 36);
static_assert(offsetof(struct ipcchan_recv, slot) == 64);
static_assert(offsetof(struct ipcchan_slot_loan, offset) == 24);
static_assert(offsetof(struct ipcchan_sem, timeout_ns) == 24);
static_assert(offsetof(struct ipcchan_region_info, prot) == 32);
static_assert(sizeof(struct ipcchan_msghdr) == 32);
static_assert(sizeof(struct ipcchan_iovec) == 16);
static_assert(offsetof(struct ipcchan_create, fds) == 24);
static_assert(offsetof(struct ipcchan_open, fd) == 28);
static_assert(offsetof(struct ipcchan_open, created) == 40);
static_assert(offsetof(struct ipcchan_send, prio) == 32);
static_assert(offsetof(struct ipcchan_recv, prio) == 32);
static_assert(offsetof(struct ipcchan_recv, seq) == 56);
static_assert(offsetof(struct ipcchan_msghdr, seq) == 24);
static_assert(offsetof(struct ipcchan_batch, done) == 20);
static_assert(offsetof(struct ipcchan_stats, senders) == 80);
static_assert(offsetof(struct ipcchan_notify, value) == 16);

/**
 * ipcchan_copy_struct_in() - copy a size-versioned struct from userspace
 * @dst:   kernel struct, @ksize bytes
 * @ksize: the kernel's size of the struct
 * @src:   user pointer
 * @usize: the caller's size of the struct
 *
 * Context: process context, may fault.
 * Return: 0, -EFAULT, or -E2BIG if the caller's struct is longer and its
 * extra bytes are not all zero.
 */
int ipcchan_copy_struct_in(void *dst, size_t ksize,
			   const void __user *src, size_t usize)
{
	return copy_struct_from_user(dst, ksize, src, usize);
}

/**
 * ipcchan_copy_struct_out() - copy a size-versioned struct to userspace
 * @dst:   user pointer
 * @usize: the caller's size of the struct
 * @src:   kernel struct, fully initialised, @ksize bytes
 * @ksize: the kernel's size of the struct
 *
 * Writes min(@usize, @ksize) bytes. Bytes past @ksize in a newer caller's
 * struct were checked to be zero on the way in and are left alone.
 *
 * Context: process context, may fault.
 * Return: 0 or -EFAULT.
 */
int ipcchan_copy_struct_out(void __user *dst, size_t usize,
			    const void *src, size_t ksize)
{
	if (copy_to_user(dst, src, min(usize, ksize)))
		return -EFAULT;
	return 0;
}

/**
 * ipcchan_mem_is_zero() - test that a reserved area is all zero
 * @p:   start
 * @len: length in bytes
 *
 * Return: true if every byte is zero.
 */
bool ipcchan_mem_is_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}
