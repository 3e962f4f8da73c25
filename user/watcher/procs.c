// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The watcher's snapshot of the server's connections, shared with the workers. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "watcher/procs.h"

struct procs {
	pthread_mutex_t mu;
	struct proc_entry *v; /* sorted by (family, addr, port) */
	size_t n;
	uint64_t taken_ns;
	_Atomic uint64_t gen;
	/* The watcher's own client end; self_port 0: none. Read lock-free first, since every
	 * statement of every connection asks. */
	_Atomic uint16_t self_port;
	uint8_t self_addr[16];
	uint8_t self_family;
};

struct procs *procs_new(void)
{
	struct procs *p = calloc(1, sizeof(*p));

	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	atomic_init(&p->gen, 1);
	return p;
}

void procs_free(struct procs *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p->v);
	free(p);
}

static int key_cmp(const uint8_t *a, uint8_t fa, uint16_t pa, const struct proc_entry *b)
{
	int c;

	if (fa != b->family)
		return fa < b->family ? -1 : 1;
	c = memcmp(a, b->addr, 16);
	if (c)
		return c;
	return pa < b->port ? -1 : pa > b->port ? 1 : 0;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct proc_entry *a = x;

	return key_cmp(a->addr, a->family, a->port, y);
}

int procs_publish(struct procs *p, const struct proc_entry *v, size_t n, uint64_t taken_ns)
{
	struct proc_entry *copy = NULL, *old;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, v, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), entry_cmp);
	}
	pthread_mutex_lock(&p->mu);
	old = p->v;
	p->v = copy;
	p->n = n;
	p->taken_ns = taken_ns;
	atomic_fetch_add(&p->gen, 1);
	pthread_mutex_unlock(&p->mu);
	free(old);
	return 0;
}

void procs_set_self(struct procs *p, const uint8_t *addr, uint8_t family, uint16_t port)
{
	pthread_mutex_lock(&p->mu);
	memset(p->self_addr, 0, sizeof(p->self_addr));
	if (family)
		memcpy(p->self_addr, addr, family == 4 ? 4 : 16);
	p->self_family = family;
	atomic_store(&p->self_port, family ? port : 0);
	atomic_fetch_add(&p->gen, 1);
	pthread_mutex_unlock(&p->mu);
}

uint64_t procs_gen(const struct procs *p)
{
	return atomic_load_explicit(&p->gen, memory_order_acquire);
}

/* addr as a 16-byte key: IPv4 zero-padded. */
static void norm(uint8_t out[16], const uint8_t *addr, uint8_t family)
{
	memset(out, 0, 16);
	memcpy(out, addr, family == 4 ? 4 : 16);
}

int procs_lookup(struct procs *p, const uint8_t *addr, uint8_t family, uint16_t port,
		 struct proc_entry *out, uint64_t *taken_ns)
{
	uint8_t k[16];
	size_t lo = 0, hi;
	int ret = -ENOENT;

	norm(k, addr, family);
	pthread_mutex_lock(&p->mu);
	hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(k, family, port, &p->v[mid]);

		if (!c) {
			*out = p->v[mid];
			*taken_ns = p->taken_ns;
			ret = 0;
			break;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	pthread_mutex_unlock(&p->mu);
	return ret;
}

int procs_is_self(struct procs *p, const uint8_t *addr, uint8_t family, uint16_t port)
{
	uint8_t k[16];
	int same;

	if (!port || atomic_load_explicit(&p->self_port, memory_order_acquire) != port)
		return 0;
	norm(k, addr, family);
	pthread_mutex_lock(&p->mu);
	same = p->self_family == family && !memcmp(p->self_addr, k, 16);
	pthread_mutex_unlock(&p->mu);
	return same;
}

int procs_parse_host(const char *host, size_t len, struct proc_entry *e)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *colon, *a = host;
	size_t alen, digits;
	unsigned long port = 0;
	uint8_t buf[16];

	/* The port is after the last ':'; an IPv6 address may be bracketed. */
	colon = memrchr(host, ':', len);
	if (!colon || colon == host)
		return -EINVAL;
	digits = (size_t)(host + len - colon - 1);
	if (digits < 1 || digits > 5)
		return -EINVAL;
	for (const char *d = colon + 1; d < host + len; d++) {
		if (*d < '0' || *d > '9')
			return -EINVAL;
		port = port * 10 + (unsigned long)(*d - '0');
	}
	if (!port || port > 65535)
		return -EINVAL;
	alen = (size_t)(colon - host);
	if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
		a++;
		alen -= 2;
	}
	if (!alen || alen >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, a, alen);
	ip[alen] = '\0';
	memset(e->addr, 0, sizeof(e->addr));
	if (inet_pton(AF_INET, ip, buf) == 1) {
		memcpy(e->addr, buf, 4);
		e->family = 4;
	} else if (inet_pton(AF_INET6, ip, buf) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (!memcmp(buf, mapped, sizeof(mapped))) {
			memcpy(e->addr, buf + 12, 4);
			e->family = 4;
		} else {
			memcpy(e->addr, buf, 16);
			e->family = 6;
		}
	} else {
		return -EINVAL;
	}
	e->port = (uint16_t)port;
	return 0;
}
