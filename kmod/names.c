// SPDX-License-Identifier: GPL-2.0
/*
 * Named channels: IPCCHAN_IOC_OPEN, IPCCHAN_IOC_UNLINK and /proc/ipcchan.
 *
 * A linked channel is in ipcchan_names, keyed by (IPC namespace, name). The
 * link holds a channel reference. Each namespace that has names has one
 * struct ipcchan_nsref, which holds one reference on the namespace, so the
 * namespace pointer in a key can never be freed and reused while a name
 * exists in it.
 *
 * Namespaces die with their names, as mqueue's queues do: the names of a
 * namespace that nothing but our nsref holds any more (no task, no nsfs
 * file, no mount: nothing can take a new reference without holding one)
 * are unlinked by a periodic collector, which frees the namespace. Without
 * it, a user could fill max_user_channels with names in namespaces nobody
 * can enter any more.
 *
 * Locking: ipcchan_names_lock (a mutex) protects ipcchan_names,
 * ipcchan_nsrefs and, for every channel, @ns, @uid, @gid, @mode and the
 * hash node (@name never changes once set). It nests outside chan->lock
 * (see chan.c).
 *
 * Permissions use the credentials the control fd was opened with
 * (file->f_cred), never those of the task that happens to call.
 */
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/jhash.h>
#include <linux/mutex.h>
#include <linux/nsproxy.h>
#include <linux/proc_fs.h>
#include <linux/proc_ns.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ipcchan.h"

#define IPCCHAN_NAME_HASH_BITS	8
/* How often dead namespaces' names are collected. */
#define IPCCHAN_NS_GC_INTERVAL	(HZ / 2)

static DEFINE_HASHTABLE(ipcchan_names, IPCCHAN_NAME_HASH_BITS);
static DEFINE_MUTEX(ipcchan_names_lock);

/**
 * struct ipcchan_nsref - a namespace that has names
 * @node:  in ipcchan_nsrefs
 * @ns:    the namespace, referenced once
 * @links: names linked in it
 */
struct ipcchan_nsref {
	struct list_head node;
	struct ipc_namespace *ns;
	unsigned long links;
};

static LIST_HEAD(ipcchan_nsrefs);
static void ipcchan_ns_gc(struct work_struct *work);
static DECLARE_DELAYED_WORK(ipcchan_ns_gc_work, ipcchan_ns_gc);

static u32 ipcchan_name_hash(const struct ipc_namespace *ns, const char *name)
{
	return jhash(name, strlen(name), (u32)(unsigned long)ns);
}

static struct ipcchan_chan *ipcchan_name_find(struct ipc_namespace *ns,
					      const char *name)
{
	struct ipcchan_chan *chan;

	lockdep_assert_held(&ipcchan_names_lock);
	hash_for_each_possible(ipcchan_names, chan, name_node,
			       ipcchan_name_hash(ns, name))
		if (chan->ns == ns && !strcmp(chan->name, name))
			return chan;
	return NULL;
}

/* Copy and check a name: 1..IPCCHAN_NAME_MAX bytes, no '/', not . or .. */
static char *ipcchan_name_from_user(u64 uname)
{
	char *name;

	name = strndup_user(u64_to_user_ptr(uname), IPCCHAN_NAME_MAX + 1);
	if (IS_ERR(name))
		return PTR_ERR(name) == -EINVAL ? ERR_PTR(-ENAMETOOLONG) : name;
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..")) {
		kfree(name);
		return ERR_PTR(-EINVAL);
	}
	return name;
}

static bool ipcchan_cred_in_group(const struct cred *cred, kgid_t gid)
{
	const struct group_info *gi = cred->group_info;
	int i;

	if (gid_eq(cred->egid, gid))
		return true;
	for (i = 0; gi && i < gi->ngroups; i++)
		if (gid_eq(gi->gid[i], gid))
			return true;
	return false;
}

/* May the control file's opener access @chan for @want (MAY_READ|WRITE)? */
static int ipcchan_name_permission(struct file *ctl, struct ipcchan_chan *chan,
				   int want)
{
	const struct cred *cred = ctl->f_cred;
	umode_t mode = chan->mode;

	if (uid_eq(cred->euid, chan->uid))
		mode >>= 6;
	else if (ipcchan_cred_in_group(cred, chan->gid))
		mode >>= 3;
	if ((mode & want & 7) == want)
		return 0;
	if (file_ns_capable(ctl, chan->ns->user_ns, CAP_IPC_OWNER))
		return 0;
	return -EACCES;
}

static void ipcchan_ns_put(struct ipc_namespace *ns)
{
	/*
	 * put_ipc_ns() is not exported before 6.12; nsfs drops references
	 * so. Without CONFIG_IPC_NS, get_ipc_ns() took none.
	 */
	if (IS_ENABLED(CONFIG_IPC_NS))
		ns->ns.ops->put(&ns->ns);
}

/* init_ipc_ns is not exported before 6.12; its inode number is fixed. */
static bool ipcchan_ns_is_init(const struct ipc_namespace *ns)
{
	return ns->ns.inum == PROC_IPC_INIT_INO;
}

static struct ipcchan_nsref *ipcchan_nsref_find(struct ipc_namespace *ns)
{
	struct ipcchan_nsref *r;

	list_for_each_entry(r, &ipcchan_nsrefs, node)
		if (r->ns == ns)
			return r;
	return NULL;
}

/* Count one more name in @ns, pinning @ns while it has any. */
static int ipcchan_nsref_get(struct ipc_namespace *ns)
{
	struct ipcchan_nsref *r;

	lockdep_assert_held(&ipcchan_names_lock);
	r = ipcchan_nsref_find(ns);
	if (!r) {
		r = kzalloc(sizeof(*r), GFP_KERNEL);
		if (!r)
			return -ENOMEM;
		r->ns = get_ipc_ns(ns);
		list_add(&r->node, &ipcchan_nsrefs);
		if (!ipcchan_ns_is_init(ns))
			schedule_delayed_work(&ipcchan_ns_gc_work,
					      IPCCHAN_NS_GC_INTERVAL);
	}
	r->links++;
	return 0;
}

static void ipcchan_nsref_put(struct ipc_namespace *ns)
{
	struct ipcchan_nsref *r = ipcchan_nsref_find(ns);

	lockdep_assert_held(&ipcchan_names_lock);
	if (WARN_ON_ONCE(!r) || --r->links)
		return;
	list_del(&r->node);
	ipcchan_ns_put(r->ns);
	kfree(r);
}

/* Take @chan's name out of the table; the caller drops the link's ref. */
static void ipcchan_name_unlink_locked(struct ipcchan_chan *chan)
{
	lockdep_assert_held(&ipcchan_names_lock);
	hash_del(&chan->name_node);
	ipcchan_nsref_put(chan->ns);
	chan->ns = NULL;
	ipcchan_chan_unlinked(chan);
}

/* Unlink every name of @ns, or of every namespace if @ns is NULL. */
static void ipcchan_ns_unlink_all(struct ipc_namespace *ns)
{
	struct ipcchan_chan *chan;
	struct hlist_node *tmp;
	int bkt;

	lockdep_assert_held(&ipcchan_names_lock);
	hash_for_each_safe(ipcchan_names, bkt, tmp, chan, name_node) {
		if (ns && chan->ns != ns)
			continue;
		ipcchan_name_unlink_locked(chan);
		ipcchan_chan_put(chan);	/* the link's reference */
	}
}

/*
 * The collector: a namespace whose only reference is our nsref can never
 * be entered again, nor gain a reference (every way to take one starts
 * from one already held). Its names go, and with them the namespace.
 */
static void ipcchan_ns_gc(struct work_struct *work)
{
	struct ipcchan_nsref *r, *tmp;
	bool again = false;

	mutex_lock(&ipcchan_names_lock);
	list_for_each_entry_safe(r, tmp, &ipcchan_nsrefs, node) {
		if (ipcchan_ns_is_init(r->ns))
			continue;
		if (refcount_read(&r->ns->ns.count) == 1)
			ipcchan_ns_unlink_all(r->ns);	/* frees r */
		else
			again = true;
	}
	if (again)
		schedule_delayed_work(&ipcchan_ns_gc_work,
				      IPCCHAN_NS_GC_INTERVAL);
	mutex_unlock(&ipcchan_names_lock);
}

/* Create and link a channel named @name (ownership from @ctl's opener). */
static struct ipcchan_chan *ipcchan_name_create(struct file *ctl,
						struct ipc_namespace *ns,
						char *name,
						struct ipcchan_open *o,
						struct ipcchan_user *user)
{
	struct ipcchan_region_attr ra = {
		.size = o->region_size,
		.slot_size = o->slot_size,
		.nr_sems = o->nr_sems,
	};
	struct ipcchan_region *region;
	struct ipcchan_chan *chan;
	int ret;

	ret = ipcchan_attr_resolve(&o->msg_size_max, &o->queue_msgs,
				   &o->queue_bytes);
	if (ret)
		return ERR_PTR(ret);
	region = ipcchan_region_new(user, &ra);
	if (IS_ERR(region))
		return ERR_CAST(region);
	chan = ipcchan_chan_new(user, o->msg_size_max, o->queue_msgs,
				o->queue_bytes, region);
	ipcchan_region_put(region);	/* the channel holds its own */
	if (IS_ERR(chan))
		return chan;
	ret = ipcchan_nsref_get(ns);
	if (ret) {
		ipcchan_chan_put(chan);
		return ERR_PTR(ret);
	}
	chan->name = name;
	chan->ns = ns;
	chan->uid = ctl->f_cred->euid;
	chan->gid = ctl->f_cred->egid;
	chan->mode = o->mode;
	chan->linked = true;
	/* One reference for the link, one for the caller. */
	ipcchan_chan_get(chan);
	hash_add(ipcchan_names, &chan->name_node, ipcchan_name_hash(ns, name));
	return chan;
}

#define IPCCHAN_OPEN_FLAGS (IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK | \
			    IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV | \
			    IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL)

static int ipcchan_open_check(const struct ipcchan_open *o)
{
	if ((o->flags & ~IPCCHAN_OPEN_FLAGS) || o->pad ||
	    !ipcchan_mem_is_zero(o->reserved, sizeof(o->reserved)))
		return -EINVAL;
	if (!(o->flags & (IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV)))
		return -EINVAL;
	if ((o->flags & IPCCHAN_OPEN_EXCL) && !(o->flags & IPCCHAN_OPEN_CREATE))
		return -EINVAL;
	if ((o->flags & IPCCHAN_OPEN_CREATE) && (o->mode & ~0777))
		return -EINVAL;
	return 0;
}

/* Make the endpoint of IPCCHAN_IOC_OPEN over @chan. */
static struct file *ipcchan_open_file(struct ipcchan_chan *chan,
				      const struct ipcchan_open *o,
				      struct ipcchan_user *user)
{
	return ipcchan_ep_file((o->flags & IPCCHAN_OPEN_SEND) ? chan : NULL,
			       (o->flags & IPCCHAN_OPEN_RECV) ? chan : NULL,
			       user, o->flags & IPCCHAN_FD_NONBLOCK);
}

/*
 * Find or create the channel of IPCCHAN_IOC_OPEN and make its endpoint,
 * all under the names lock: the endpoint is counted as a sender or
 * receiver before an unlink can judge hangup, and a channel this call
 * creates is seen by nobody else until it has its endpoint, so a failure
 * can undo the creation. Takes ownership of @name.
 */
static struct file *ipcchan_name_open(struct file *ctl, struct ipcchan_open *o,
				      char *name, struct ipcchan_user *user)
{
	struct ipc_namespace *ns = current->nsproxy->ipc_ns;
	struct ipcchan_chan *chan;
	struct file *file;
	int want = 0;

	if (o->flags & IPCCHAN_OPEN_SEND)
		want |= MAY_WRITE;
	if (o->flags & IPCCHAN_OPEN_RECV)
		want |= MAY_READ;

	mutex_lock(&ipcchan_names_lock);
	chan = ipcchan_name_find(ns, name);
	if (chan) {
		kfree(name);
		o->created = 0;
		if (o->flags & IPCCHAN_OPEN_EXCL)
			file = ERR_PTR(-EEXIST);
		else if (ipcchan_name_permission(ctl, chan, want))
			file = ERR_PTR(-EACCES);
		else
			file = ipcchan_open_file(chan, o, user);
		goto out_unlock;
	}
	if (!(o->flags & IPCCHAN_OPEN_CREATE)) {
		kfree(name);
		file = ERR_PTR(-ENOENT);
		goto out_unlock;
	}
	chan = ipcchan_name_create(ctl, ns, name, o, user);
	if (IS_ERR(chan)) {
		kfree(name);
		file = ERR_CAST(chan);
		goto out_unlock;
	}
	o->created = 1;
	file = ipcchan_open_file(chan, o, user);
	if (IS_ERR(file)) {
		ipcchan_name_unlink_locked(chan);
		ipcchan_chan_put(chan);	/* the link's reference */
	}
	ipcchan_chan_put(chan);		/* ipcchan_name_create()'s */
out_unlock:
	mutex_unlock(&ipcchan_names_lock);
	return file;
}

/**
 * ipcchan_ioctl_open() - IPCCHAN_IOC_OPEN handler (control fd)
 * @ctl:   the control file; its credentials are checked and own new channels
 * @arg:   user pointer to struct ipcchan_open
 * @usize: the caller's size of the struct
 *
 * If the result cannot be written back (-EFAULT), the endpoint is closed
 * but a channel this call created stays, as a file open(2) created does.
 *
 * Return: 0 or a negative errno; no fd is installed on failure.
 */
long ipcchan_ioctl_open(struct file *ctl, void __user *arg, size_t usize)
{
	struct ipcchan_user *user;
	struct ipcchan_open o;
	struct file *file;
	char *name;
	int fd, ret;

	ret = ipcchan_copy_struct_in(&o, sizeof(o), arg, usize);
	if (ret)
		return ret;
	ret = ipcchan_open_check(&o);
	if (ret)
		return ret;
	name = ipcchan_name_from_user(o.name);
	if (IS_ERR(name))
		return PTR_ERR(name);
	user = ipcchan_user_get(ctl->f_cred->uid);
	if (!user) {
		ret = -ENOMEM;
		goto out_name;
	}
	ret = ipcchan_reserve_fds(1, o.flags & IPCCHAN_FD_CLOEXEC, &fd);
	if (ret)
		goto out_user;

	file = ipcchan_name_open(ctl, &o, name, user);
	name = NULL;
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		ret = PTR_ERR(file);
		goto out_user;
	}
	o.fd = fd;
	if (ipcchan_copy_struct_out(arg, usize, &o, sizeof(o))) {
		ipcchan_abort_fds(&file, &fd, 1);
		ret = -EFAULT;
		goto out_user;
	}
	ipcchan_commit_fds(&file, &fd, 1);
out_user:
	ipcchan_user_put(user);
out_name:
	kfree(name);
	return ret;
}

/**
 * ipcchan_ioctl_unlink() - IPCCHAN_IOC_UNLINK handler (control fd)
 * @ctl:   the control file; its opener must own the channel or have
 *         CAP_IPC_OWNER
 * @arg:   user pointer to struct ipcchan_unlink
 * @usize: the caller's size of the struct
 *
 * Return: 0, -ENOENT, -EACCES, -EINVAL, -ENAMETOOLONG or -EFAULT.
 */
long ipcchan_ioctl_unlink(struct file *ctl, void __user *arg, size_t usize)
{
	struct ipc_namespace *ns = current->nsproxy->ipc_ns;
	struct ipcchan_chan *chan;
	struct ipcchan_unlink u;
	char *name;
	int ret;

	ret = ipcchan_copy_struct_in(&u, sizeof(u), arg, usize);
	if (ret)
		return ret;
	if (u.flags || !ipcchan_mem_is_zero(u.reserved, sizeof(u.reserved)))
		return -EINVAL;
	name = ipcchan_name_from_user(u.name);
	if (IS_ERR(name))
		return PTR_ERR(name);

	mutex_lock(&ipcchan_names_lock);
	chan = ipcchan_name_find(ns, name);
	ret = -ENOENT;
	if (!chan)
		goto out_unlock;
	ret = -EACCES;
	if (!uid_eq(ctl->f_cred->euid, chan->uid) &&
	    !file_ns_capable(ctl, ns->user_ns, CAP_IPC_OWNER))
		goto out_unlock;
	ipcchan_name_unlink_locked(chan);
	mutex_unlock(&ipcchan_names_lock);
	kfree(name);
	ipcchan_chan_put(chan);	/* the link's reference */
	return 0;

out_unlock:
	mutex_unlock(&ipcchan_names_lock);
	kfree(name);
	return ret;
}

/**
 * ipcchan_names_exit() - unlink every name (module exit)
 *
 * No endpoint can exist when the module exits (each holds a module
 * reference), so every channel left is held by its link alone. Also
 * removes /proc/ipcchan.
 */
void ipcchan_names_exit(void)
{
	remove_proc_entry(IPCCHAN_DEVICE_NAME, NULL);
	/* No name can be created any more: the work is not re-armed after. */
	cancel_delayed_work_sync(&ipcchan_ns_gc_work);
	mutex_lock(&ipcchan_names_lock);
	ipcchan_ns_unlink_all(NULL);
	mutex_unlock(&ipcchan_names_lock);
}

/*
 * /proc/ipcchan: the named channels of the opener's IPC namespace (taken,
 * with a reference, when the file is opened), one per line, ids in the
 * opener's user namespace, names escaped (IPCCHAN_NAME_ESCAPE). The names
 * lock is held from ->start to ->stop, one read()'s worth of lines; each
 * line takes chan->lock for a consistent snapshot.
 *
 * The cursor: the iterator records where the entry it last returned is
 * (its bucket, and how many of the namespace's entries come before it in
 * that bucket). ->next continues the hash chain from the entry itself.
 * seq_read_iter() ends a read() after ->next returned an entry there was
 * no room for, and the next read() calls ->start with that entry's
 * position: ->start resumes from the record there, and walks from the top
 * only for any other position (lseek). Reading the whole listing costs
 * O(names), not O(names^2) with the global names lock held. Names linked
 * or unlinked between two read() calls may make a line appear twice or
 * not at all, as in any seq_file listing of a changing table; one read()
 * with room for the whole listing is a consistent snapshot.
 */
struct ipcchan_proc_iter {
	struct ipc_namespace *ns;
	loff_t pos;		/* position of the entry last returned; 0: none */
	unsigned int bkt;	/* its bucket */
	unsigned int skip;	/* entries of @ns before it in that bucket */
};

/*
 * The entry @skip entries of @it->ns into bucket @bkt, or else the first
 * in a later bucket; records where it is.
 */
static struct ipcchan_chan *ipcchan_proc_at(struct ipcchan_proc_iter *it,
					    unsigned int bkt,
					    unsigned int skip)
{
	struct ipcchan_chan *chan;
	unsigned int i;

	for (; bkt < HASH_SIZE(ipcchan_names); bkt++, skip = 0) {
		i = 0;
		hlist_for_each_entry(chan, &ipcchan_names[bkt], name_node) {
			if (chan->ns != it->ns || i++ < skip)
				continue;
			it->bkt = bkt;
			it->skip = skip;
			return chan;
		}
	}
	return NULL;
}

/* The entry after @chan (the one last returned), in O(1) amortised. */
static struct ipcchan_chan *ipcchan_proc_after(struct ipcchan_proc_iter *it,
					       struct ipcchan_chan *chan)
{
	hlist_for_each_entry_continue(chan, name_node) {
		if (chan->ns == it->ns) {
			it->skip++;
			return chan;
		}
	}
	return ipcchan_proc_at(it, it->bkt + 1, 0);
}

static void *ipcchan_proc_start(struct seq_file *m, loff_t *pos)
{
	struct ipcchan_proc_iter *it = m->private;
	struct ipcchan_chan *chan;
	loff_t i;

	mutex_lock(&ipcchan_names_lock);
	if (*pos == 0)
		return SEQ_START_TOKEN;
	if (it->pos && *pos == it->pos) {
		/* The entry ->next returned and the last read() left. */
		chan = ipcchan_proc_at(it, it->bkt, it->skip);
	} else {
		/* lseek, or a first read: walk from the top. */
		chan = ipcchan_proc_at(it, 0, 0);
		for (i = 1; chan && i < *pos; i++)
			chan = ipcchan_proc_after(it, chan);
	}
	it->pos = chan ? *pos : 0;
	return chan;
}

static void *ipcchan_proc_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct ipcchan_proc_iter *it = m->private;
	struct ipcchan_chan *chan;

	++*pos;
	if (v == SEQ_START_TOKEN)
		chan = ipcchan_proc_at(it, 0, 0);
	else
		chan = ipcchan_proc_after(it, v);
	it->pos = chan ? *pos : 0;
	return chan;
}

static void ipcchan_proc_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&ipcchan_names_lock);
}

static int ipcchan_proc_show(struct seq_file *m, void *v)
{
	struct user_namespace *uns = seq_user_ns(m);
	struct ipcchan_chan *chan = v;
	struct ipcchan_stats st;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "name mode uid gid msg_size_max queue_msgs queue_bytes queued_msgs queued_bytes sent received senders receivers\n");
		return 0;
	}
	ipcchan_chan_stats(chan, &st);
	seq_escape(m, chan->name, IPCCHAN_NAME_ESCAPE);
	seq_printf(m, " %04o %u %u %llu %llu %llu %llu %llu %llu %llu %u %u\n",
		   chan->mode, from_kuid_munged(uns, chan->uid),
		   from_kgid_munged(uns, chan->gid), st.msg_size_max,
		   st.queue_msgs, st.queue_bytes, st.queued_msgs,
		   st.queued_bytes, st.sent, st.received, st.senders,
		   st.receivers);
	return 0;
}

static const struct seq_operations ipcchan_proc_ops = {
	.start	= ipcchan_proc_start,
	.next	= ipcchan_proc_next,
	.stop	= ipcchan_proc_stop,
	.show	= ipcchan_proc_show,
};

static int ipcchan_proc_open(struct inode *inode, struct file *file)
{
	struct ipcchan_proc_iter *it;

	it = __seq_open_private(file, &ipcchan_proc_ops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->ns = get_ipc_ns(current->nsproxy->ipc_ns);
	return 0;
}

static int ipcchan_proc_release(struct inode *inode, struct file *file)
{
	struct ipcchan_proc_iter *it;

	it = ((struct seq_file *)file->private_data)->private;
	ipcchan_ns_put(it->ns);
	return seq_release_private(inode, file);
}

static const struct proc_ops ipcchan_proc_fops = {
	.proc_open	= ipcchan_proc_open,
	.proc_read_iter	= seq_read_iter,
	.proc_lseek	= seq_lseek,
	.proc_release	= ipcchan_proc_release,
};

/**
 * ipcchan_names_init() - create /proc/ipcchan
 *
 * Return: 0 or -ENOMEM.
 */
int ipcchan_names_init(void)
{
	if (!proc_create(IPCCHAN_DEVICE_NAME, 0444, NULL, &ipcchan_proc_fops))
		return -ENOMEM;
	return 0;
}
