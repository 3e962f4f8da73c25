// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* IP -> application enrichment: a CIDR table (longest prefix wins) and its text format. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lib/jbuf.h"
#include "lib/lines.h"
#include "report/enrich.h"

/* A file larger than this is refused before it is read: 1M lines of ~80 bytes. */
#define ENRICH_FILE_MAX (128u << 20)

struct ent {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t del; /* patch only: "-" */
	uint8_t app_len;
	uint32_t line;
	uint8_t addr[16]; /* masked to plen; zero past 4 bytes for AF_INET */
	char app[ENRICH_APP_MAX];
};

/*
 * One hash table for every (family, prefix length, masked address), and per family the
 * prefix lengths present, longest first: a lookup probes one slot per length present (a
 * handful in practice), never the whole table, and takes no lock.
 */
struct enrich {
	atomic_uint refs;
	struct ent *v;
	uint32_t n;
	uint32_t *slots; /* 1 + index into v, 0 = empty */
	uint32_t mask;
	uint8_t lens4[33], nlens4;
	uint8_t lens6[129], nlens6;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static uint64_t ent_hash(uint8_t family, uint8_t plen, const uint8_t *addr)
{
	uint8_t k[18];

	k[0] = family;
	k[1] = plen;
	memcpy(k + 2, addr, 16);
	return XXH3_64bits(k, sizeof(k));
}

/* The slot of (family, plen, addr): where it is, or the empty slot where it would go. */
static uint32_t *slot_find(const struct enrich *e, uint8_t family, uint8_t plen,
			   const uint8_t *addr)
{
	uint32_t i = (uint32_t)ent_hash(family, plen, addr) & e->mask;

	for (;; i = (i + 1) & e->mask) {
		uint32_t *s = &e->slots[i];
		const struct ent *x;

		if (!*s)
			return s;
		x = &e->v[*s - 1];
		if (x->family == family && x->plen == plen && !memcmp(x->addr, addr, 16))
			return s;
	}
}

static void mask_addr(uint8_t *addr, unsigned plen, unsigned bytes)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		addr[i] &= plen > 8 * i ? (uint8_t)(0xff00u >> (plen - 8 * i)) : 0;
	}
	memset(addr + bytes, 0, 16 - bytes);
}

static void lens_add(uint8_t *lens, uint8_t *n, uint8_t plen)
{
	uint8_t i, j;

	for (i = 0; i < *n && lens[i] > plen; i++)
		;
	if (i < *n && lens[i] == plen)
		return;
	for (j = *n; j > i; j--)
		lens[j] = lens[j - 1];
	lens[i] = plen;
	(*n)++;
}

static struct enrich *table_new(uint32_t cap)
{
	struct enrich *e = calloc(1, sizeof(*e));
	uint32_t size = 16;

	if (!e)
		return NULL;
	while (size < 2 * (uint64_t)cap)
		size <<= 1;
	e->v = calloc(cap ? cap : 1, sizeof(*e->v));
	e->slots = calloc(size, sizeof(*e->slots));
	if (!e->v || !e->slots) {
		free(e->v);
		free(e->slots);
		free(e);
		return NULL;
	}
	e->mask = size - 1;
	atomic_init(&e->refs, 1);
	return e;
}

/* Adds x (room was reserved). Returns the slot it took, or the existing entry's. */
static uint32_t *table_put(struct enrich *e, const struct ent *x, bool *dup)
{
	uint32_t *s = slot_find(e, x->family, x->plen, x->addr);

	*dup = *s != 0;
	if (*dup)
		return s;
	e->v[e->n] = *x;
	*s = ++e->n;
	if (x->family == AF_INET)
		lens_add(e->lens4, &e->nlens4, x->plen);
	else
		lens_add(e->lens6, &e->nlens6, x->plen);
	return s;
}

static bool app_byte_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '"' && c != '\\';
}

/* Parses "CIDR APP" (a trimmed line without comment). Returns 0 or -EINVAL with reason. */
static int parse_line(const char *s, size_t n, int patch, struct ent *x, char *why, size_t wl)
{
	char cidr[INET6_ADDRSTRLEN + 8];
	size_t a = 0, b, c, d;
	const char *slash;
	unsigned long plen;
	char *end;

	while (a < n && s[a] != ' ' && s[a] != '\t')
		a++;
	for (b = a; b < n && (s[b] == ' ' || s[b] == '\t'); b++)
		;
	for (c = b; c < n && s[c] != ' ' && s[c] != '\t'; c++)
		;
	for (d = c; d < n && (s[d] == ' ' || s[d] == '\t'); d++)
		;
	if (b == n)
		return fail(why, wl, "expected 'CIDR APP', got one field");
	if (d != n)
		return fail(why, wl, "expected 'CIDR APP', got more than two fields");
	if (a >= sizeof(cidr))
		return fail(why, wl, "bad CIDR '%.*s': too long", 48, s);
	memcpy(cidr, s, a);
	cidr[a] = 0;
	memset(x, 0, sizeof(*x));
	slash = strchr(cidr, '/');
	if (slash)
		cidr[slash - cidr] = 0;
	if (inet_pton(AF_INET, cidr, x->addr) == 1)
		x->family = AF_INET;
	else if (inet_pton(AF_INET6, cidr, x->addr) == 1)
		x->family = AF_INET6;
	else
		return fail(why, wl, "bad CIDR '%.*s': not an IPv4 or IPv6 address", (int)a, s);
	plen = x->family == AF_INET ? 32 : 128;
	if (slash) {
		errno = 0;
		if (slash[1] < '0' || slash[1] > '9' ||
		    (plen = strtoul(slash + 1, &end, 10), *end) || errno ||
		    plen > (x->family == AF_INET ? 32u : 128u))
			return fail(why, wl, "bad CIDR '%.*s': prefix length must be 0..%u", (int)a,
				    s, x->family == AF_INET ? 32 : 128);
	}
	x->plen = (uint8_t)plen;
	{
		uint8_t m[16];

		memcpy(m, x->addr, 16);
		mask_addr(m, x->plen, x->family == AF_INET ? 4 : 16);
		if (memcmp(m, x->addr, 16))
			return fail(why, wl,
				    "bad CIDR '%.*s': address has bits set past the prefix length",
				    (int)a, s);
	}
	if (c - b > ENRICH_APP_MAX)
		return fail(why, wl, "app name longer than %u bytes", ENRICH_APP_MAX);
	if (!jbuf_utf8_valid(s + b, c - b))
		return fail(why, wl, "app name is not valid UTF-8");
	for (size_t i = b; i < c; i++)
		if (!app_byte_ok((unsigned char)s[i]))
			return fail(why, wl, "app name holds a control character, '\"' or '\\'");
	if (c - b == 1 && s[b] == '-') {
		if (!patch)
			return fail(why, wl, "app '-' (delete) is for POST /enrich/update only");
		x->del = 1;
	}
	x->app_len = (uint8_t)(c - b);
	memcpy(x->app, s + b, c - b);
	return 0;
}

int enrich_parse(const char *text, size_t len, const char *name, int patch, struct enrich **out,
		 char *err, size_t errlen)
{
	size_t nlines = 0, n;
	struct lines l;
	struct enrich *e;
	const char *s;
	char why[160];
	int ret;

	*out = NULL;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	if (nlines + 1 > ENRICH_MAX_ENTRIES)
		nlines = ENRICH_MAX_ENTRIES - 1;
	e = table_new((uint32_t)nlines + 1);
	if (!e)
		return -ENOMEM;
	lines_init(&l, text, len, LINES_TRIM);
	while ((ret = lines_next(&l, &s, &n)) > 0) {
		struct ent x;
		uint32_t *slot;
		bool dup;

		if (parse_line(s, n, patch, &x, why, sizeof(why))) {
			fail(err, errlen, "%s:%u: %s", name, l.no, why);
			goto bad;
		}
		if (e->n >= ENRICH_MAX_ENTRIES) {
			fail(err, errlen, "%s:%u: more than %u prefixes", name, l.no,
			     ENRICH_MAX_ENTRIES);
			goto bad;
		}
		x.line = l.no;
		slot = table_put(e, &x, &dup);
		if (dup) {
			fail(err, errlen, "%s:%u: prefix given twice (first on line %u)", name, l.no,
			     e->v[*slot - 1].line);
			goto bad;
		}
	}
	if (ret) {
		fail(err, errlen, "%s:%u: NUL byte in the line", name, l.no);
		goto bad;
	}
	*out = e;
	return 0;
bad:
	enrich_put(e);
	return -EINVAL;
}

int enrich_load_file(const char *path, struct enrich **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t len = 0, cap = 0;
	int ret;

	*out = NULL;
	if (!f) {
		ret = errno ? -errno : -EIO;
		fail(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	for (;;) {
		size_t got;

		if (cap - len < 65536) {
			char *p;

			if (cap >= ENRICH_FILE_MAX) {
				fclose(f);
				free(data);
				return fail(err, errlen, "%s: larger than %u MiB", path,
					    ENRICH_FILE_MAX >> 20);
			}
			cap = cap ? 2 * cap : 65536;
			p = realloc(data, cap);
			if (!p) {
				fclose(f);
				free(data);
				return -ENOMEM;
			}
			data = p;
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		fail(err, errlen, "%s: read error", path);
	} else {
		ret = enrich_parse(data, len, path, 0, out, err, errlen);
	}
	fclose(f);
	free(data);
	return ret;
}

struct enrich *enrich_empty(void)
{
	return table_new(0);
}

int enrich_apply(const struct enrich *base, const struct enrich *patch, struct enrich **out)
{
	uint64_t cap = (base ? base->n : 0) + (patch ? patch->n : 0);
	struct enrich *e;
	bool dup;
	uint32_t i;

	*out = NULL;
	if (cap > ENRICH_MAX_ENTRIES)
		return -E2BIG;
	e = table_new((uint32_t)cap);
	if (!e)
		return -ENOMEM;
	/* The patch first, so its lines win; a deleted prefix is then dropped at the end. */
	for (i = 0; patch && i < patch->n; i++)
		table_put(e, &patch->v[i], &dup);
	for (i = 0; base && i < base->n; i++)
		table_put(e, &base->v[i], &dup);
	if (patch) {
		struct enrich *f = table_new((uint32_t)cap);

		if (!f) {
			enrich_put(e);
			return -ENOMEM;
		}
		for (i = 0; i < e->n; i++)
			if (!e->v[i].del)
				table_put(f, &e->v[i], &dup);
		enrich_put(e);
		e = f;
	}
	*out = e;
	return 0;
}

struct enrich *enrich_ref(struct enrich *e)
{
	if (e)
		atomic_fetch_add(&e->refs, 1);
	return e;
}

void enrich_put(struct enrich *e)
{
	if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	free(e->v);
	free(e->slots);
	free(e);
}

const char *enrich_lookup(const struct enrich *e, uint8_t family, const uint8_t *addr,
			  size_t *len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *lens;
	uint8_t key[16];
	unsigned i, n, bytes;

	if (!e || !e->n)
		return NULL;
	if (family == AF_INET6 && !memcmp(addr, v4mapped, 12)) {
		family = AF_INET;
		addr += 12;
	}
	if (family == AF_INET) {
		lens = e->lens4;
		n = e->nlens4;
		bytes = 4;
	} else if (family == AF_INET6) {
		lens = e->lens6;
		n = e->nlens6;
		bytes = 16;
	} else {
		return NULL;
	}
	for (i = 0; i < n; i++) {
		uint32_t *s;

		memcpy(key, addr, bytes);
		mask_addr(key, lens[i], bytes);
		s = slot_find(e, family, lens[i], key);
		if (*s) {
			const struct ent *x = &e->v[*s - 1];

			*len = x->app_len;
			return x->app;
		}
	}
	return NULL;
}

size_t enrich_count(const struct enrich *e)
{
	return e ? e->n : 0;
}
