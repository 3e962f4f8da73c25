// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one message nodes of a gossip cluster exchange: heartbeat, election and leave (JSON). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/addr.h"
#include "cluster/gossip_msg.h"
#include "lib/jbuf.h"
#include "lib/jread.h"

static const char *const role_names[GOSSIP_ROLE_MAX] = {
	[GOSSIP_SLAVE] = "slave",
	[GOSSIP_CANDIDATE] = "candidate",
	[GOSSIP_WITNESS] = "witness",
};

const char *gossip_role_name(uint32_t role)
{
	return role < GOSSIP_ROLE_MAX ? role_names[role] : "?";
}

static void write_lease(struct jbuf *j, const struct lease_msg *l)
{
	jbuf_key(j, "lease");
	jbuf_obj_open(j);
	jbuf_key(j, "kind");
	jbuf_str(j, lease_msg_name(l->kind));
	jbuf_key(j, "round");
	jbuf_u64(j, l->round);
	jbuf_key(j, "term");
	jbuf_u64(j, l->term);
	jbuf_key(j, "pre");
	jbuf_bool(j, l->pre);
	jbuf_key(j, "ok");
	jbuf_bool(j, l->ok);
	jbuf_obj_close(j);
}

static void write_lists(struct jbuf *j, const struct gossip_msg *m)
{
	jbuf_key(j, "seqs");
	jbuf_arr_open(j);
	for (size_t i = 0; i < m->nseqs; i++) {
		jbuf_arr_open(j);
		jbuf_str(j, m->seqs[i].slave);
		jbuf_u64(j, m->seqs[i].started_ms);
		jbuf_u64(j, m->seqs[i].seq);
		jbuf_arr_close(j);
	}
	jbuf_arr_close(j);
	jbuf_key(j, "emitted");
	jbuf_u64(j, m->emitted_end_ms);
	jbuf_key(j, "members");
	jbuf_arr_open(j);
	for (size_t i = 0; i < m->nmembers; i++)
		jbuf_str(j, m->members[i]);
	jbuf_arr_close(j);
}

int gossip_msg_write(const struct gossip_msg *m, struct buf *out)
{
	struct jbuf j;
	int ret;

	if (m->role >= GOSSIP_ROLE_MAX || m->nseqs > GOSSIP_MAX_SEQS ||
	    m->nmembers > GOSSIP_MAX_MEMBERS || m->lease.kind >= LEASE_MSG_KIND_MAX)
		return -EINVAL;
	jbuf_init(&j);
	jbuf_obj_open(&j);
	jbuf_key(&j, "v");
	jbuf_u64(&j, GOSSIP_VERSION);
	jbuf_key(&j, "group");
	jbuf_str(&j, m->group);
	jbuf_key(&j, "from");
	jbuf_str(&j, m->from);
	jbuf_key(&j, "to");
	jbuf_str(&j, m->to);
	jbuf_key(&j, "role");
	jbuf_str(&j, gossip_role_name(m->role));
	jbuf_key(&j, "rank");
	jbuf_u64(&j, m->rank);
	jbuf_key(&j, "term");
	jbuf_u64(&j, m->term);
	jbuf_key(&j, "leader");
	jbuf_str(&j, m->leader);
	jbuf_key(&j, "leaving");
	jbuf_bool(&j, m->leaving);
	if (m->lease.kind)
		write_lease(&j, &m->lease);
	write_lists(&j, m);
	jbuf_obj_close(&j);
	ret = jbuf_error(&j);
	if (!ret)
		ret = buf_append(out, j.out.data, j.out.len);
	jbuf_free(&j);
	return ret;
}

/* A string field copied into dst (size n); absent = "" when optional. */
static int get_str(struct jread *r, jnode_t *obj, const char *key, char *dst, size_t n,
		   bool optional)
{
	jnode_t *v = jread_get(r, obj, key);
	const char *s;
	size_t len;

	if (!v && optional) {
		dst[0] = '\0';
		return 0;
	}
	s = v ? jread_str(v, &len) : NULL;
	if (!s || len >= n || strlen(s) != len)
		return -EINVAL;
	memcpy(dst, s, len + 1);
	return 0;
}

/* A node id: HOST:PORT, or "" where allowed. */
static int check_id(const char *id, bool empty_ok)
{
	char host[ADDR_HOST_MAX];
	const char *why;
	int port;

	if (!*id)
		return empty_ok ? 0 : -EINVAL;
	return addr_parse(id, host, &port, &why);
}

static int get_u64(struct jread *r, jnode_t *obj, const char *key, uint64_t *v, bool optional)
{
	jnode_t *n = jread_get(r, obj, key);

	if (!n) {
		*v = 0;
		return optional ? 0 : -EINVAL;
	}
	return jread_u64(n, v);
}

static int get_bool(struct jread *r, jnode_t *obj, const char *key, bool *v)
{
	jnode_t *n = jread_get(r, obj, key);
	int b = 0;

	if (n && jread_bool(n, &b))
		return -EINVAL;
	*v = b;
	return 0;
}

static int parse_kind(const char *name, uint32_t *kind)
{
	for (uint32_t k = 1; k < LEASE_MSG_KIND_MAX; k++)
		if (!strcmp(name, lease_msg_name(k)))
			return *kind = k, 0;
	return -EINVAL;
}

static int parse_lease(struct jread *r, jnode_t *obj, struct lease_msg *l, const char **why)
{
	jnode_t *v = jread_get(r, obj, "lease");
	char kind[16];
	bool pre, ok;

	memset(l, 0, sizeof(*l));
	if (!v)
		return 0;
	if (!jread_is_obj(v) || get_str(r, v, "kind", kind, sizeof(kind), false) ||
	    parse_kind(kind, &l->kind))
		return *why = "lease.kind: expected hb, hb_ack, vote_req, vote or leave", -EINVAL;
	if (get_u64(r, v, "round", &l->round, true) || get_u64(r, v, "term", &l->term, false))
		return *why = "lease: round and term must be unsigned integers", -EINVAL;
	if (get_bool(r, v, "pre", &pre) || get_bool(r, v, "ok", &ok))
		return *why = "lease: pre and ok must be booleans", -EINVAL;
	l->pre = pre;
	l->ok = ok;
	return 0;
}

static int parse_seq(struct jread *r, jnode_t *it, struct gossip_seq *s)
{
	const char *id;
	size_t len;

	if (jread_len(it) != 3)
		return -EINVAL;
	id = jread_str(jread_at(r, it, 0), &len);
	if (!id || len >= sizeof(s->slave) || strlen(id) != len)
		return -EINVAL;
	memcpy(s->slave, id, len + 1);
	if (check_id(s->slave, false) || jread_u64(jread_at(r, it, 1), &s->started_ms) ||
	    jread_u64(jread_at(r, it, 2), &s->seq))
		return -EINVAL;
	return 0;
}

static int parse_lists(struct jread *r, jnode_t *obj, struct gossip_msg *m, const char **why)
{
	jnode_t *seqs = jread_get(r, obj, "seqs"), *mem = jread_get(r, obj, "members");

	m->nseqs = m->nmembers = 0;
	if (seqs && (!jread_is_arr(seqs) || jread_len(seqs) > GOSSIP_MAX_SEQS))
		return *why = "seqs: expected an array of at most 64 items", -EINVAL;
	for (size_t i = 0; seqs && i < jread_len(seqs); i++)
		if (parse_seq(r, jread_at(r, seqs, i), &m->seqs[m->nseqs++]))
			return *why = "seqs: expected [\"HOST:PORT\", started_ms, seq]", -EINVAL;
	m->emitted_end_ms = 0;
	if (get_u64(r, obj, "emitted", &m->emitted_end_ms, true))
		return *why = "emitted: expected an unsigned integer", -EINVAL;
	if (mem && (!jread_is_arr(mem) || jread_len(mem) > GOSSIP_MAX_MEMBERS))
		return *why = "members: expected an array of at most 64 items", -EINVAL;
	for (size_t i = 0; mem && i < jread_len(mem); i++) {
		char *id = m->members[m->nmembers++];
		size_t len;
		const char *s = jread_str(jread_at(r, mem, i), &len);

		if (!s || len >= LEASE_ID_MAX || strlen(s) != len)
			return *why = "members: expected HOST:PORT strings", -EINVAL;
		memcpy(id, s, len + 1);
		if (check_id(id, false))
			return *why = "members: expected HOST:PORT strings", -EINVAL;
	}
	return 0;
}

static int parse_role(struct jread *r, jnode_t *obj, struct gossip_msg *m)
{
	char name[16];

	if (get_str(r, obj, "role", name, sizeof(name), false))
		return -EINVAL;
	for (uint32_t i = 0; i < GOSSIP_ROLE_MAX; i++)
		if (!strcmp(name, role_names[i]))
			return m->role = i, 0;
	return -EINVAL;
}

static int parse_head(struct jread *r, jnode_t *obj, struct gossip_msg *m, const char **why)
{
	uint64_t v, rank;

	if (get_u64(r, obj, "v", &v, false) || v != GOSSIP_VERSION)
		return *why = "v: unsupported version (expected 1)", -EINVAL;
	if (get_str(r, obj, "group", m->group, sizeof(m->group), false))
		return *why = "group: expected a string of at most 63 bytes", -EINVAL;
	if (get_str(r, obj, "from", m->from, sizeof(m->from), false) || check_id(m->from, false))
		return *why = "from: expected HOST:PORT", -EINVAL;
	if (get_str(r, obj, "to", m->to, sizeof(m->to), true) || check_id(m->to, true))
		return *why = "to: expected HOST:PORT or \"\"", -EINVAL;
	if (get_str(r, obj, "leader", m->leader, sizeof(m->leader), true) ||
	    check_id(m->leader, true))
		return *why = "leader: expected HOST:PORT or \"\"", -EINVAL;
	if (parse_role(r, obj, m))
		return *why = "role: expected slave, candidate or witness", -EINVAL;
	if (get_u64(r, obj, "rank", &rank, true) || rank > UINT32_MAX)
		return *why = "rank: expected an unsigned 32-bit integer", -EINVAL;
	m->rank = (uint32_t)rank;
	if (get_u64(r, obj, "term", &m->term, false))
		return *why = "term: expected an unsigned integer", -EINVAL;
	if (get_bool(r, obj, "leaving", &m->leaving))
		return *why = "leaving: expected a boolean", -EINVAL;
	return 0;
}

int gossip_msg_parse(const char *text, size_t len, struct gossip_msg *m, const char **why)
{
	struct jread r = { 0 };
	jnode_t *root;
	int ret;

	*why = "not a JSON object";
	if (len > GOSSIP_MSG_MAX)
		return *why = "message too large", -EINVAL;
	ret = jread_load(&r, text, len);
	if (ret) {
		jread_free(&r);
		return ret;
	}
	root = jread_root(&r);
	if (!jread_is_obj(root))
		ret = -EINVAL;
	if (!ret)
		ret = parse_head(&r, root, m, why);
	if (!ret)
		ret = parse_lease(&r, root, &m->lease, why);
	if (!ret)
		ret = parse_lists(&r, root, m, why);
	jread_free(&r);
	return ret;
}
