// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A node's last election vote on disk, so that it never votes twice in one term. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/addr.h"
#include "cluster/vote_file.h"
#include "lib/buf.h"
#include "lib/file_atomic.h"
#include "lib/lines.h"

/* Two short lines; a larger file is not a vote file. */
#define VOTE_MAX_BYTES 4096

static int parse_term(const char *p, const char *end, uint64_t *term)
{
	uint64_t n = 0;

	if (p == end)
		return -EINVAL;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*term = n;
	return 0;
}

static int parse_line(void *ctx, const char *p, size_t len, const char **why)
{
	struct lease_vote *v = ctx;
	const char *end = p + len;
	char host[ADDR_HOST_MAX];
	size_t n;
	int port;

	if (end - p >= 5 && !memcmp(p, "term ", 5)) {
		if (parse_term(p + 5, end, &v->term))
			return *why = "term: expected one decimal number", -EINVAL;
		return 0;
	}
	if (end - p < 10 || memcmp(p, "voted_for ", 10))
		return *why = "unknown line (expected term or voted_for)", -EINVAL;
	p += 10;
	n = (size_t)(end - p);
	if (n >= sizeof(v->voted_for) || memchr(p, '\0', n))
		return *why = "voted_for: not a HOST:PORT", -EINVAL;
	memcpy(v->voted_for, p, n);
	v->voted_for[n] = '\0';
	return addr_parse(v->voted_for, host, &port, why) ? -EINVAL : 0;
}

int vote_parse(const char *text, size_t len, struct lease_vote *v, char *err, size_t errlen)
{
	struct lease_vote tmp = { 0 };
	struct lines l;
	int ret;

	lines_init(&l, text, len, 0);
	ret = lines_each(&l, parse_line, &tmp, err, errlen);
	if (ret)
		return ret;
	if (tmp.term && !tmp.voted_for[0]) {
		snprintf(err, errlen, "line %u: voted_for missing", l.no);
		return -EINVAL;
	}
	*v = tmp;
	return 0;
}

int vote_read(const char *path, struct lease_vote *v, char *err, size_t errlen)
{
	char text[VOTE_MAX_BYTES + 1];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	n = fread(text, 1, sizeof(text), f);
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if (n > VOTE_MAX_BYTES)
		return -EFBIG;
	return vote_parse(text, n, v, err, errlen);
}

int vote_write(const char *path, const struct lease_vote *v)
{
	struct buf b = { 0 };
	int ret;

	ret = buf_printf(&b, "# mysqlprobe vote: written before each vote is answered\n"
			     "term %llu\nvoted_for %s\n", (unsigned long long)v->term, v->voted_for);
	/*
	 * No fsync: behind a database's dirty pages one took 2.6-3.8 s here, longer than an
	 * election may last (1 s), and takeovers missed their 5 s. A process that crashes and
	 * restarts finds its vote (the page cache keeps it); a host that crashes may lose it, but
	 * it comes back long after any election of that term ended (an election lasts at most
	 * 1 s), and a started node votes for no one during its first lease anyway.
	 */
	if (!ret)
		ret = file_write_atomic_nosync(path, b.data, b.len);
	buf_free(&b);
	return ret;
}
