/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the inode table: (st_dev, st_ino) -> struct pfc_inode, chained
 * hash buckets (XXH3 of the key) that double when the table fills, and the
 * bounded set of O_PATH descriptors (an LRU of idle ones; see inode.h).
 * All table state and every inode's table fields are protected by t->lock,
 * a leaf lock (see the lock order in inode.h): no system call but close()
 * of an idle O_PATH descriptor is made under it.
 */
#include "fs/daemon/inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static size_t hash_key(dev_t dev, ino_t ino)
{
	uint64_t k[2] = {(uint64_t)dev, (uint64_t)ino};

	return (size_t)XXH3_64bits(k, sizeof(k));
}

static void inode_init(struct pfc_inode *in, int fd, const struct stat *st)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->type = st->st_mode & S_IFMT;
	pthread_rwlock_init(&in->io_lock, NULL);
	pthread_mutex_init(&in->dir_lock, NULL);
}

static void inode_fini(struct pfc_itable *t, struct pfc_inode *in)
{
	if (t->cleanup)
		t->cleanup(in);
	free(in->bname);
	in->bname = NULL;
	free(in->d);
	in->d = NULL;
	if (in->fd >= 0)
		close(in->fd);
	pthread_rwlock_destroy(&in->io_lock);
	pthread_mutex_destroy(&in->dir_lock);
}

/* ---- the idle list (caller holds t->lock) -------------------------------- */

static void lru_remove(struct pfc_itable *t, struct pfc_inode *in)
{
	if (!in->on_lru)
		return;
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else
		t->lru_head = in->lru_next;
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		t->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
	in->on_lru = false;
}

/* Put in at the head if its descriptor is idle and may be closed. */
static void lru_idle(struct pfc_itable *t, struct pfc_inode *in)
{
	if (in->on_lru || in == &t->root || in->fd < 0 || in->fd_users || in->orphan)
		return;
	in->lru_prev = NULL;
	in->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = in;
	else
		t->lru_tail = in;
	t->lru_head = in;
	in->on_lru = true;
}

/* Close idle descriptors from the tail: down to the cap (want == 0), or
 * want of them. */
static size_t lru_close(struct pfc_itable *t, size_t want)
{
	size_t n = 0;

	while (t->lru_tail && (want ? n < want : t->nfds > t->fd_cap)) {
		struct pfc_inode *in = t->lru_tail;

		lru_remove(t, in);
		close(in->fd); /* O_PATH: no I/O, nothing to flush */
		in->fd = -1;
		t->nfds--;
		t->closes++;
		n++;
	}
	return n;
}

/* ---- names (caller holds t->lock) ----------------------------------------- */

/* Free in when nothing refers to it; then its parent may follow. */
static void maybe_free_locked(struct pfc_itable *t, struct pfc_inode *in, struct pfc_inode **freeq)
{
	while (in && in != &t->root && in->nlookup == 0 && in->refs == 0 && in->fd_users == 0) {
		struct pfc_inode **pp = &t->buckets[hash_key(in->dev, in->ino) & (t->nbuckets - 1)];
		struct pfc_inode *parent = in->parent;

		while (*pp && *pp != in)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = in->hnext;
		t->count--;
		lru_remove(t, in);
		if (in->fd >= 0)
			t->nfds--;
		in->parent = NULL;
		/* freed by the caller outside the lock (cleanup takes other locks) */
		in->hnext = *freeq;
		*freeq = in;
		if (parent)
			parent->refs--;
		in = parent;
	}
}

static void free_queue(struct pfc_itable *t, struct pfc_inode *q)
{
	while (q) {
		struct pfc_inode *next = q->hnext;

		inode_fini(t, q);
		free(q);
		q = next;
	}
}

/* Make (parent, bname) in's name; bname is a malloc'd string now owned by
 * in (or NULL: an orphan).  The old parent may become free. */
static void set_name_locked(struct pfc_itable *t, struct pfc_inode *in, struct pfc_inode *parent,
			    char *bname, struct pfc_inode **freeq)
{
	struct pfc_inode *old = in->parent;

	if (parent)
		parent->refs++;
	in->parent = bname ? parent : NULL;
	if (!bname && parent)
		parent->refs--;
	free(in->bname);
	in->bname = bname;
	in->orphan = bname == NULL;
	if (in->orphan)
		lru_remove(t, in);
	else
		lru_idle(t, in);
	if (old) {
		old->refs--;
		maybe_free_locked(t, old, freeq);
	}
}

static bool named(const struct pfc_inode *in, const struct pfc_inode *dir, const char *bname)
{
	return in->parent == dir && in->bname && strcmp(in->bname, bname) == 0;
}

/* ---- the table ------------------------------------------------------------ */

int pfc_itable_init(struct pfc_itable *t, int root_fd, pfc_inode_cleanup_fn cleanup, size_t fd_cap)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	inode_init(&t->root, root_fd, &st);
	t->root.nlookup = 2; /* never reaches zero */
	t->cleanup = cleanup;
	t->fd_cap = fd_cap ? fd_cap : 1;
	return 0;
}

struct pfc_inode *pfc_itable_get(struct pfc_itable *t, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &t->root;
	return (struct pfc_inode *)(uintptr_t)ino;
}

fuse_ino_t pfc_itable_ino(struct pfc_itable *t, const struct pfc_inode *inode)
{
	if (inode == &t->root)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)inode;
}

/* Double the bucket array; caller holds t->lock.  Failure is harmless. */
static void grow(struct pfc_itable *t)
{
	size_t n = t->nbuckets * 2;
	struct pfc_inode **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct pfc_inode *in = t->buckets[b], *next;

		for (; in; in = next) {
			size_t h = hash_key(in->dev, in->ino) & (n - 1);

			next = in->hnext;
			in->hnext = nb[h];
			nb[h] = in;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

static struct pfc_inode *find_locked(struct pfc_itable *t, dev_t dev, ino_t ino)
{
	struct pfc_inode *in;

	if (dev == t->root.dev && ino == t->root.ino)
		return &t->root;
	for (in = t->buckets[hash_key(dev, ino) & (t->nbuckets - 1)]; in; in = in->hnext)
		if (in->dev == dev && in->ino == ino)
			return in;
	return NULL;
}

int pfc_itable_lookup(struct pfc_itable *t, int fd, const struct stat *st, struct pfc_inode *parent,
		      const char *bname, struct pfc_inode **out)
{
	struct pfc_inode *in, *fresh, *freeq = NULL;
	char *name;

	if (st->st_dev == t->root.dev && st->st_ino == t->root.ino) {
		/* ".." of a top-level directory, or the root reached by a link */
		close(fd);
		*out = &t->root;
		return 0;
	}
	fresh = malloc(sizeof(*fresh));
	name = strdup(bname);
	if (!fresh || !name) {
		free(fresh);
		free(name);
		close(fd);
		return -ENOMEM;
	}
	inode_init(fresh, -1, st);

	pthread_mutex_lock(&t->lock);
	in = find_locked(t, st->st_dev, st->st_ino);
	if (in) {
		in->nlookup++;
		if (!named(in, parent, bname)) {
			set_name_locked(t, in, parent, name, &freeq);
			name = NULL;
		}
		if (in->fd < 0) {
			/* closed by the budget: this lookup's descriptor saves a reopen */
			in->fd = fd;
			t->nfds++;
			fd = -1;
			lru_idle(t, in);
		}
		lru_close(t, 0);
		pthread_mutex_unlock(&t->lock);
		free_queue(t, freeq);
		free(name);
		pthread_rwlock_destroy(&fresh->io_lock);
		pthread_mutex_destroy(&fresh->dir_lock);
		free(fresh);
		if (fd >= 0)
			close(fd);
		*out = in;
		return 0;
	}
	fresh->fd = fd;
	fresh->nlookup = 1;
	fresh->parent = parent;
	parent->refs++;
	fresh->bname = name;
	{
		size_t h = hash_key(st->st_dev, st->st_ino) & (t->nbuckets - 1);

		fresh->hnext = t->buckets[h];
		t->buckets[h] = fresh;
	}
	t->nfds++;
	lru_idle(t, fresh);
	if (++t->count > t->nbuckets * 2)
		grow(t);
	lru_close(t, 0);
	pthread_mutex_unlock(&t->lock);
	*out = fresh;
	return 0;
}

void pfc_itable_forget(struct pfc_itable *t, fuse_ino_t ino, uint64_t n)
{
	struct pfc_inode *in = pfc_itable_get(t, ino), *freeq = NULL;

	if (in == &t->root)
		return;
	pthread_mutex_lock(&t->lock);
	if (n > in->nlookup)
		n = in->nlookup; /* never underflow on a confused kernel */
	in->nlookup -= n;
	maybe_free_locked(t, in, &freeq);
	pthread_mutex_unlock(&t->lock);
	free_queue(t, freeq);
}

size_t pfc_itable_count(struct pfc_itable *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ---- descriptors ------------------------------------------------------------ */

static int reopen_default(int dirfd, const char *name, void *ctx)
{
	(void)ctx;
	return openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

int pfc_inode_fd(struct pfc_itable *t, struct pfc_inode *in, pfc_reopen_fn reopen, void *ctx)
{
	struct pfc_inode *parent, *freeq = NULL;
	struct stat st;
	char *name;
	int pfd, fd, rc = 0;

	pthread_mutex_lock(&t->lock);
	if (in->fd >= 0) {
		lru_remove(t, in);
		in->fd_users++;
		fd = in->fd;
		pthread_mutex_unlock(&t->lock);
		return fd;
	}
	if (in->orphan || !in->parent || !in->bname) {
		pthread_mutex_unlock(&t->lock);
		return -ESTALE;
	}
	parent = in->parent;
	parent->refs++; /* a rename may change in->parent meanwhile */
	in->refs++;	/* and a forget must not free in under us */
	name = strdup(in->bname);
	pthread_mutex_unlock(&t->lock);

	if (!name) {
		rc = -ENOMEM;
		goto out;
	}
	pfd = pfc_inode_fd(t, parent, reopen, ctx);
	if (pfd < 0) {
		rc = pfd;
		goto out;
	}
	fd = (reopen ? reopen : reopen_default)(pfd, name, ctx);
	if (fd < 0)
		rc = -errno;
	pfc_inode_fd_put(t, parent);
	if (rc < 0)
		goto out;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != in->dev ||
	    st.st_ino != in->ino) {
		/* the name leads to another object now (changed from outside) */
		close(fd);
		rc = -ESTALE;
		goto out;
	}
	pthread_mutex_lock(&t->lock);
	if (in->fd >= 0) {
		/* another thread reopened it first */
		close(fd);
		lru_remove(t, in);
	} else {
		in->fd = fd;
		t->nfds++;
		t->reopens++;
	}
	in->fd_users++;
	rc = in->fd;
	pthread_mutex_unlock(&t->lock);
out:
	free(name);
	pthread_mutex_lock(&t->lock);
	parent->refs--;
	in->refs--;
	maybe_free_locked(t, parent, &freeq);
	maybe_free_locked(t, in, &freeq);
	pthread_mutex_unlock(&t->lock);
	free_queue(t, freeq);
	return rc;
}

void pfc_inode_fd_put(struct pfc_itable *t, struct pfc_inode *in)
{
	struct pfc_inode *freeq = NULL;

	pthread_mutex_lock(&t->lock);
	if (in->fd_users && --in->fd_users == 0) {
		lru_idle(t, in);
		lru_close(t, 0);
		maybe_free_locked(t, in, &freeq);
	}
	pthread_mutex_unlock(&t->lock);
	free_queue(t, freeq);
}

struct pfc_inode *pfc_itable_find(struct pfc_itable *t, dev_t dev, ino_t ino)
{
	struct pfc_inode *in;

	pthread_mutex_lock(&t->lock);
	in = find_locked(t, dev, ino);
	if (in)
		in->refs++;
	pthread_mutex_unlock(&t->lock);
	return in;
}

void pfc_itable_release(struct pfc_itable *t, struct pfc_inode *in)
{
	struct pfc_inode *freeq = NULL;

	if (!in)
		return;
	pthread_mutex_lock(&t->lock);
	in->refs--;
	maybe_free_locked(t, in, &freeq);
	pthread_mutex_unlock(&t->lock);
	free_queue(t, freeq);
}

void pfc_itable_renamed(struct pfc_itable *t, struct pfc_inode *in, struct pfc_inode *dir,
			const char *bname, struct pfc_inode *ndir, const char *nbname)
{
	struct pfc_inode *freeq = NULL;
	char *name = strdup(nbname);

	pthread_mutex_lock(&t->lock);
	if (named(in, dir, bname)) {
		if (name) {
			set_name_locked(t, in, ndir, name, &freeq);
			name = NULL;
		} else if (in->fd >= 0) {
			set_name_locked(t, in, NULL, NULL, &freeq); /* no memory: keep the fd */
		}
	}
	pthread_mutex_unlock(&t->lock);
	free(name);
	free_queue(t, freeq);
}

void pfc_itable_unnamed(struct pfc_itable *t, struct pfc_inode *in, struct pfc_inode *dir,
			const char *bname)
{
	struct pfc_inode *freeq = NULL;

	pthread_mutex_lock(&t->lock);
	if (named(in, dir, bname))
		set_name_locked(t, in, NULL, NULL, &freeq);
	pthread_mutex_unlock(&t->lock);
	free_queue(t, freeq);
}

size_t pfc_itable_shrink(struct pfc_itable *t, size_t n)
{
	size_t done;

	pthread_mutex_lock(&t->lock);
	done = lru_close(t, n);
	pthread_mutex_unlock(&t->lock);
	return done;
}

void pfc_itable_destroy(struct pfc_itable *t)
{
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct pfc_inode *in = t->buckets[b], *next;

		for (; in; in = next) {
			next = in->hnext;
			inode_fini(t, in);
			free(in);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	inode_fini(t, &t->root);
	pthread_mutex_destroy(&t->lock);
}
