// SPDX-License-Identifier: MIT
/* census.c - files per master-key version, from headers only (see census.h). */
#include <stdlib.h>
#include <string.h>

#include "fs/err.h"
#include "tools/census.h"
#include "tools/cli.h"

static int add(struct census *c, const char *name, uint32_t version, const char *rel)
{
	struct census_entry *e = NULL;
	size_t i;

	for (i = 0; i < c->n; i++) {
		int cmp = strcmp(c->e[i].name, name);

		if (cmp == 0 && c->e[i].version == version) {
			e = &c->e[i];
			break;
		}
		if (cmp > 0 || (cmp == 0 && c->e[i].version > version))
			break;
	}
	if (!e) {
		struct census_entry *ne = realloc(c->e, (c->n + 1) * sizeof(*ne));

		if (!ne)
			return -1;
		c->e = ne;
		memmove(&c->e[i + 1], &c->e[i], (c->n - i) * sizeof(*ne));
		e = &c->e[i];
		memset(e, 0, sizeof(*e));
		strcpy(e->name, name);
		e->version = version;
		c->n++;
	}
	e->files++;
	if (e->nexamples < CENSUS_EXAMPLES) {
		e->examples[e->nexamples] = strdup(rel);
		if (!e->examples[e->nexamples])
			return -1;
		e->nexamples++;
	}
	return 0;
}

int census_take(const struct cli_vol *v, struct census *c)
{
	struct cli_walk w;
	int r;

	memset(c, 0, sizeof(*c));
	if (pfc_blob_parse_name_version(v->cfg.wrapped_name_key, v->cfg.wrapped_name_key_len,
					c->cfg_name, &c->cfg_version) < 0)
		c->cfg_version = 0;
	if ((r = cli_walk_files(v, &w)))
		return r;
	for (size_t i = 0; i < w.n; i++) {
		struct pfc_header h;
		char name[PFC_KS_NAME_MAX + 1];
		uint32_t ver;

		r = cli_read_header(v, w.files[i], &h, NULL);
		if (r == 1) {
			c->empty++;
			continue;
		}
		if (r == 0)
			r = pfc_blob_parse_name_version(h.wrapped, h.wrapped_len, name, &ver);
		if (r < 0) {
			c->unreadable++;
			if (!c->bad_example)
				c->bad_example = strdup(w.files[i]);
			continue;
		}
		if (add(c, name, ver, w.files[i]) < 0) {
			cli_err(v->path, "out of memory");
			cli_walk_free(&w);
			census_free(c);
			return CLI_EXIT_SETUP;
		}
	}
	c->strays = w.strays; /* kept for the caller's warnings */
	c->nstrays = w.nstrays;
	w.strays = NULL;
	w.nstrays = 0;
	cli_walk_free(&w);
	return 0;
}

void census_free(struct census *c)
{
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->e[i].nexamples; j++)
			free(c->e[i].examples[j]);
	free(c->e);
	free(c->bad_example);
	for (size_t i = 0; i < c->nstrays; i++)
		free(c->strays[i].path);
	free(c->strays);
	memset(c, 0, sizeof(*c));
}

const struct census_entry *census_find(const struct census *c, const char *name, uint32_t version)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].name, name) && c->e[i].version == version)
			return &c->e[i];
	return NULL;
}
