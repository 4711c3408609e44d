// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user accounting: channels held and message bytes queued, charged to
 * a real uid and checked against max_user_channels / max_user_bytes.
 *
 * Locking: ipcchan_users_lock (a spinlock) protects the hash table and the
 * membership of every struct ipcchan_user in it. The counters are atomics
 * and need no lock; a struct is freed when its last reference goes, under
 * the lock so that a lookup never finds a dying entry.
 */
#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>

#include "ipcchan.h"

#define IPCCHAN_USER_HASH_BITS	6

static DEFINE_HASHTABLE(ipcchan_users, IPCCHAN_USER_HASH_BITS);
static DEFINE_SPINLOCK(ipcchan_users_lock);

static struct ipcchan_user *ipcchan_user_find_locked(kuid_t uid)
{
	struct ipcchan_user *u;

	lockdep_assert_held(&ipcchan_users_lock);
	hash_for_each_possible(ipcchan_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/**
 * ipcchan_user_get() - find or create the accounting record of a user
 * @uid: the real uid to charge
 *
 * Context: process context, may sleep.
 * Return: a referenced record, or NULL if out of memory.
 */
struct ipcchan_user *ipcchan_user_get(kuid_t uid)
{
	struct ipcchan_user *u, *fresh;

	spin_lock(&ipcchan_users_lock);
	u = ipcchan_user_find_locked(uid);
	if (u)
		refcount_inc(&u->ref);
	spin_unlock(&ipcchan_users_lock);
	if (u)
		return u;

	/* Shared by every cgroup of the user: charge it to none of them. */
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	if (!fresh)
		return NULL;
	fresh->uid = uid;
	refcount_set(&fresh->ref, 1);

	spin_lock(&ipcchan_users_lock);
	u = ipcchan_user_find_locked(uid);
	if (u) {
		refcount_inc(&u->ref);
	} else {
		hash_add(ipcchan_users, &fresh->node, __kuid_val(uid));
		u = fresh;
		fresh = NULL;
	}
	spin_unlock(&ipcchan_users_lock);
	kfree(fresh);
	return u;
}

/**
 * ipcchan_user_put() - drop a reference taken by ipcchan_user_get()
 * @u: the record, or NULL
 *
 * Context: any non-atomic context.
 */
void ipcchan_user_put(struct ipcchan_user *u)
{
	/*
	 * refcount_dec_and_lock() spelled out so that sparse sees balanced
	 * locking: the global lock is taken only for a last reference, never
	 * on the per-message path.
	 */
	if (!u || refcount_dec_not_one(&u->ref))
		return;
	spin_lock(&ipcchan_users_lock);
	if (refcount_dec_and_test(&u->ref))
		hash_del(&u->node);
	else
		u = NULL;
	spin_unlock(&ipcchan_users_lock);
	kfree(u);
}

/**
 * ipcchan_user_charge_channel() - charge one channel to @u
 * @u:     the user
 * @limit: max_user_channels
 *
 * Return: 0, or -EMFILE at the limit.
 */
int ipcchan_user_charge_channel(struct ipcchan_user *u, u64 limit)
{
	return ipcchan_counter_charge(&u->channels, 1, limit) ? 0 : -EMFILE;
}

void ipcchan_user_uncharge_channel(struct ipcchan_user *u)
{
	atomic64_dec(&u->channels);
}

/**
 * ipcchan_user_charge_bytes() - charge queued message bytes to @u
 * @u:     the user
 * @bytes: payload bytes
 * @limit: max_user_bytes
 *
 * Return: 0, or -ENOSPC at the limit.
 */
int ipcchan_user_charge_bytes(struct ipcchan_user *u, u64 bytes, u64 limit)
{
	return ipcchan_counter_charge(&u->bytes, bytes, limit) ? 0 : -ENOSPC;
}

void ipcchan_user_uncharge_bytes(struct ipcchan_user *u, u64 bytes)
{
	atomic64_sub(bytes, &u->bytes);
}

/**
 * ipcchan_user_charge_region() - charge shared region bytes to @u
 * @u:     the user
 * @bytes: the region's size
 * @limit: max_user_region_bytes
 *
 * Return: 0, or -ENOSPC at the limit.
 */
int ipcchan_user_charge_region(struct ipcchan_user *u, u64 bytes, u64 limit)
{
	return ipcchan_counter_charge(&u->region_bytes, bytes, limit) ?
	       0 : -ENOSPC;
}

void ipcchan_user_uncharge_region(struct ipcchan_user *u, u64 bytes)
{
	atomic64_sub(bytes, &u->region_bytes);
}

/**
 * ipcchan_user_usage() - what a user has charged now
 * @uid:          the real uid
 * @channels:     out
 * @bytes:        out
 * @region_bytes: out
 */
void ipcchan_user_usage(kuid_t uid, u64 *channels, u64 *bytes,
			u64 *region_bytes)
{
	struct ipcchan_user *u;

	*channels = 0;
	*bytes = 0;
	*region_bytes = 0;
	spin_lock(&ipcchan_users_lock);
	u = ipcchan_user_find_locked(uid);
	if (u) {
		*channels = atomic64_read(&u->channels);
		*bytes = atomic64_read(&u->bytes);
		*region_bytes = atomic64_read(&u->region_bytes);
	}
	spin_unlock(&ipcchan_users_lock);
}
