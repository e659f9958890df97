/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the inode table: (st_dev, st_ino) -> struct pfc_inode, chained
 * hash buckets (XXH3 of the key) that double when the table fills.  All
 * table state and every inode's nlookup are protected by t->lock, which is a
 * leaf lock (see the lock order in inode.h).
 */
#include "fs/daemon/inode.h"

#include <errno.h>
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
	free(in->kname);
	in->kname = NULL;
	if (in->fd >= 0)
		close(in->fd);
	pthread_rwlock_destroy(&in->io_lock);
	pthread_mutex_destroy(&in->dir_lock);
}

int pfc_itable_init(struct pfc_itable *t, int root_fd, pfc_inode_cleanup_fn cleanup)
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

int pfc_itable_lookup(struct pfc_itable *t, int fd, const struct stat *st, struct pfc_inode **out)
{
	struct pfc_inode *in, *fresh;
	size_t h;

	if (st->st_dev == t->root.dev && st->st_ino == t->root.ino) {
		/* ".." of a top-level directory, or the root reached by a link */
		close(fd);
		*out = &t->root;
		return 0;
	}
	fresh = malloc(sizeof(*fresh));
	if (!fresh) {
		close(fd);
		return -ENOMEM;
	}
	inode_init(fresh, fd, st);

	pthread_mutex_lock(&t->lock);
	h = hash_key(st->st_dev, st->st_ino) & (t->nbuckets - 1);
	for (in = t->buckets[h]; in; in = in->hnext)
		if (in->dev == st->st_dev && in->ino == st->st_ino)
			break;
	if (in) {
		in->nlookup++;
		pthread_mutex_unlock(&t->lock);
		fresh->fd = -1;
		pthread_rwlock_destroy(&fresh->io_lock);
		pthread_mutex_destroy(&fresh->dir_lock);
		free(fresh);
		close(fd);
		*out = in;
		return 0;
	}
	fresh->nlookup = 1;
	fresh->hnext = t->buckets[h];
	t->buckets[h] = fresh;
	if (++t->count > t->nbuckets * 2)
		grow(t);
	pthread_mutex_unlock(&t->lock);
	*out = fresh;
	return 0;
}

void pfc_itable_forget(struct pfc_itable *t, fuse_ino_t ino, uint64_t n)
{
	struct pfc_inode *in = pfc_itable_get(t, ino), **pp;

	if (in == &t->root)
		return;
	pthread_mutex_lock(&t->lock);
	if (n > in->nlookup)
		n = in->nlookup; /* never underflow on a confused kernel */
	in->nlookup -= n;
	if (in->nlookup) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	pp = &t->buckets[hash_key(in->dev, in->ino) & (t->nbuckets - 1)];
	while (*pp && *pp != in)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = in->hnext;
	t->count--;
	pthread_mutex_unlock(&t->lock);
	inode_fini(t, in);
	free(in);
}

size_t pfc_itable_count(struct pfc_itable *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void pfc_itable_set_name(struct pfc_itable *t, struct pfc_inode *in, fuse_ino_t parent,
			 const char *name)
{
	char *copy;

	if (in == &t->root)
		return;
	copy = strdup(name); /* NULL on failure: the inode is then never pruned */
	pthread_mutex_lock(&t->lock);
	free(in->kname);
	in->kname = copy;
	in->kparent = parent;
	pthread_mutex_unlock(&t->lock);
}

size_t pfc_itable_pick(struct pfc_itable *t, size_t max, size_t *cursor, fuse_ino_t *parents,
		       char **names)
{
	size_t n = 0, seen = 0;

	pthread_mutex_lock(&t->lock);
	for (; n < max && seen < t->nbuckets; seen++) {
		size_t b = (*cursor)++ & (t->nbuckets - 1);

		for (struct pfc_inode *in = t->buckets[b]; in && n < max; in = in->hnext) {
			bool open;

			if (!in->kname)
				continue;
			/* io_lock comes before this lock: only try it, never wait */
			if (pthread_rwlock_tryrdlock(&in->io_lock) != 0)
				continue;
			open = in->f.opens > 0;
			pthread_rwlock_unlock(&in->io_lock);
			if (open)
				continue;
			names[n] = strdup(in->kname);
			if (!names[n])
				break;
			parents[n++] = in->kparent;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return n;
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
