/* SPDX-License-Identifier: MIT */
/*
 * check.h - pfcrypt check, shared between its two halves:
 *   check_tree.c  the walk (single thread): directory ids, names, long-name
 *                 companions, orphans, symlink targets and their companions
 *                 (FORMAT.md 8.2); collects the files;
 *   cmd_check.c   the file contents (several threads): header, file key
 *                 unwrap, generation MAC, every block; output and exit code.
 */
#ifndef PFC_CLI_CHECK_H
#define PFC_CLI_CHECK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "tools/vol.h"

/* Where in a file a problem is: its block number and that block's backing offset, or -1. */
struct check_at {
	long long block, offset;
};
#define CHECK_NOWHERE ((struct check_at){-1, -1})

struct check_item {
	char *backing;	  /* relative to the backing root */
	char *plain;	  /* "/a/b", or NULL when a name on the way did not decrypt */
	char *cause;	  /* problems and notices only */
	const char *code; /* problems and notices: the stable code (tools/CLI.md), a literal */
	struct check_at at;
};

struct check_list {
	struct check_item *v;
	size_t n, cap;
};

struct check {
	struct cli_vol *v;
	struct pfc_volkeys *vk;
	bool quick;
	bool fold;		    /* --fold-dirids: fold several directory ids into one */
	struct check_list files;    /* regular files to check (cause unused) */
	pthread_mutex_t lock;	    /* protects problems and notices (workers add to them) */
	struct check_list problems; /* protected by lock */
	struct check_list notices;  /* protected by lock; not problems (exit code unchanged) */
	size_t dirs, symlinks;	    /* counted by the walk (one thread) */
	struct check_list symrefs;  /* the walk's: companions referred to by long symlinks */
	atomic_size_t blocks;	    /* blocks authenticated */
	atomic_bool fatal;	    /* the keystore stopped answering: could not run */
};

/* Record a problem / notice with its code (tools/CLI.md "check codes"; a string literal)
 * (thread-safe).  plain may be NULL.  -1 on ENOMEM. */
int check_problem(struct check *ck, const char *code, const char *backing, const char *plain,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int check_notice(struct check *ck, const char *code, const char *backing, const char *plain,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A problem of one block of a file (at: its number and backing offset). */
int check_block_problem(struct check *ck, const char *code, const struct check_item *file,
			struct check_at at, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void check_list_free(struct check_list *l);
/*
 * When set (per thread), check_problem() adds to this list instead of
 * ck->problems: the content check of a file runs into a private list first,
 * so that a problem seen while a mounted volume's writer was mid-update can be
 * checked a second time before it is reported.
 */
extern _Thread_local struct check_list *check_capture;
/* Append every item of from to ck->problems (thread-safe) and empty from. */
int check_list_move(struct check *ck, struct check_list *from);

/* check_fold.c: fold directory dfd's ids into ids[primary] (see there).  0, or -1 on ENOMEM. */
int check_fold(struct check *ck, int dfd, const char *rel, const char *plain,
	       const uint8_t (*ids)[PFC_ID_BYTES], size_t nids, size_t primary);

/* Walk the tree from the root; fills ck->files, problems, notices.  0, or
 * CLI_EXIT_SETUP if the walk itself failed (message printed). */
int check_tree(struct check *ck);

#endif
