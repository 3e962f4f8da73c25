// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A master's state on disk (cluster.state_file): its slaves and how far it merged each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/addr.h"
#include "cluster/state_file.h"
#include "lib/buf.h"
#include "lib/file_atomic.h"
#include "lib/lines.h"

/* A state file is a few lines per slave; anything larger is not one. */
#define STATE_MAX_BYTES (16u << 20)

void cluster_state_free(struct cluster_state *st)
{
	free(st->slaves);
	memset(st, 0, sizeof(*st));
}

int state_add(struct cluster_state *st, const char *addr, uint64_t started_ms, uint64_t seq)
{
	struct state_slave *s;

	if (strlen(addr) >= STATE_ADDR_MAX)
		return -EINVAL;
	s = realloc(st->slaves, (st->nslaves + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	st->slaves = s;
	s = &st->slaves[st->nslaves++];
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->started_ms = started_ms;
	s->seq = seq;
	return 0;
}

/* A decimal u64 token ending at a space or the end of the line. */
static int take_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (s < end && *s != ' ')
		return -EINVAL;
	*v = n;
	*p = s < end ? s + 1 : s;
	return 0;
}

static int parse_line(void *ctx, const char *p, size_t len, const char **why)
{
	struct cluster_state *st = ctx;
	const char *end = p + len;
	char addr[STATE_ADDR_MAX], host[ADDR_HOST_MAX];
	uint64_t started, seq;
	const char *sp;
	int port;

	if (end - p >= 4 && !memcmp(p, "seq ", 4)) {
		p += 4;
		if (take_u64(&p, end, &st->seq) || p != end)
			return *why = "seq: expected one decimal number", -EINVAL;
		return 0;
	}
	if (end - p < 6 || memcmp(p, "slave ", 6))
		return *why = "unknown line (expected seq or slave)", -EINVAL;
	p += 6;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p || (size_t)(sp - p) >= sizeof(addr))
		return *why = "slave: expected ADDRESS STARTED_MS SEQ", -EINVAL;
	memcpy(addr, p, (size_t)(sp - p));
	addr[sp - p] = '\0';
	if (addr_parse(addr, host, &port, why))
		return -EINVAL;
	p = sp + 1;
	if (take_u64(&p, end, &started) || take_u64(&p, end, &seq) || p != end)
		return *why = "slave: expected ADDRESS STARTED_MS SEQ", -EINVAL;
	for (size_t i = 0; i < st->nslaves; i++)
		if (!strcmp(st->slaves[i].addr, addr))
			return *why = "slave listed twice", -EINVAL;
	return state_add(st, addr, started, seq) == -ENOMEM ? -ENOMEM : 0;
}

int state_parse(const char *text, size_t len, struct cluster_state *st, char *err, size_t errlen)
{
	struct cluster_state tmp = { 0 };
	struct lines l;
	int ret;

	lines_init(&l, text, len, 0);
	ret = lines_each(&l, parse_line, &tmp, err, errlen);
	if (ret) {
		cluster_state_free(&tmp);
		return ret;
	}
	*st = tmp;
	return 0;
}

int state_read(const char *path, struct cluster_state *st, char *err, size_t errlen)
{
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	int ret = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !ret) {
		if (b.len + n > STATE_MAX_BYTES)
			ret = -EFBIG;
		else
			ret = buf_append(&b, chunk, n);
	}
	if (!ret && ferror(f))
		ret = -EIO;
	fclose(f);
	if (!ret)
		ret = state_parse(b.data ? b.data : "", b.len, st, err, errlen);
	buf_free(&b);
	return ret;
}

int state_write(const char *path, const struct cluster_state *st)
{
	struct buf b = { 0 };
	int ret;

	ret = buf_printf(&b, "# mysqlprobe master state: written by the agent, read at its start\n"
			     "seq %llu\n", (unsigned long long)st->seq);
	for (size_t i = 0; !ret && i < st->nslaves; i++)
		ret = buf_printf(&b, "slave %s %llu %llu\n", st->slaves[i].addr,
				 (unsigned long long)st->slaves[i].started_ms,
				 (unsigned long long)st->slaves[i].seq);
	if (!ret)
		ret = file_write_atomic(path, b.data, b.len);
	buf_free(&b);
	return ret;
}
