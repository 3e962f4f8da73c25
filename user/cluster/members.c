// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Who is in a gossip cluster and how recently each was heard: the membership table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/addr.h"
#include "cluster/members.h"
#include "lib/jbuf.h"

struct members {
	struct members_cfg cfg;
	char self[LEASE_ID_MAX];
	char group[GOSSIP_GROUP_MAX];
	struct member m[GOSSIP_MAX_MEMBERS];
	size_t n;
	unsigned long long refused[MEMBER_REFUSED_MAX];
};

static const char *const state_names[] = {
	[MEMBER_ALIVE] = "alive",
	[MEMBER_SUSPECT] = "suspect",
	[MEMBER_DEAD] = "dead",
	[MEMBER_LEFT] = "left",
};

const char *member_state_name(enum member_state s)
{
	return (unsigned)s <= MEMBER_LEFT ? state_names[s] : "?";
}

static bool valid_id(const char *id)
{
	char host[ADDR_HOST_MAX];
	const char *why;
	int port;

	return strlen(id) < LEASE_ID_MAX && !addr_parse(id, host, &port, &why);
}

struct members *members_new(const struct members_cfg *cfg)
{
	struct members *ms;

	if (!cfg->self || !valid_id(cfg->self) || !cfg->group ||
	    strlen(cfg->group) >= GOSSIP_GROUP_MAX || !cfg->hb_ms || !cfg->suspect_missed ||
	    cfg->dead_ms <= cfg->hb_ms * cfg->suspect_missed) {
		errno = EINVAL;
		return NULL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return NULL;
	ms->cfg = *cfg;
	snprintf(ms->self, sizeof(ms->self), "%s", cfg->self);
	snprintf(ms->group, sizeof(ms->group), "%s", cfg->group);
	ms->cfg.self = ms->self;
	ms->cfg.group = ms->group;
	return ms;
}

void members_free(struct members *ms)
{
	free(ms);
}

static struct member *find(struct members *ms, const char *id)
{
	for (size_t i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].id, id))
			return &ms->m[i];
	return NULL;
}

const struct member *members_find(const struct members *ms, const char *id)
{
	return find((struct members *)ms, id);
}

int members_add(struct members *ms, const char *id, uint64_t now)
{
	struct member *m;

	if (!valid_id(id) || !strcmp(id, ms->self))
		return -EINVAL;
	m = find(ms, id);
	if (m) {
		if (m->state == MEMBER_LEFT) {
			m->state = MEMBER_ALIVE;
			m->heard_ms = now;
		}
		return -EEXIST;
	}
	if (ms->n == GOSSIP_MAX_MEMBERS)
		return -ENOSPC;
	m = &ms->m[ms->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->role = GOSSIP_ROLE_MAX;
	m->state = MEMBER_ALIVE;
	m->heard_ms = now;
	return 0;
}

int members_remove(struct members *ms, const char *id)
{
	struct member *m = find(ms, id);

	if (!m)
		return -ENOENT;
	*m = ms->m[--ms->n];
	return 0;
}

int members_on_msg(struct members *ms, const struct gossip_msg *msg, uint64_t now)
{
	struct member *m;
	int ret;

	if (strcmp(msg->group, ms->group)) {
		ms->refused[MEMBER_REFUSED_GROUP]++;
		return -EPERM;
	}
	ret = members_add(ms, msg->from, now);
	if (ret && ret != -EEXIST)
		return ret == -ENOSPC ? -EINVAL : ret;
	m = find(ms, msg->from);
	m->role = msg->role;
	m->rank = msg->rank;
	m->term = msg->term;
	snprintf(m->leader, sizeof(m->leader), "%s", msg->leader);
	m->heard_ms = now;
	m->heard = true;
	m->state = msg->leaving ? MEMBER_LEFT : MEMBER_ALIVE;
	/* Names it lists join too; one that left is not brought back by hearsay. */
	for (size_t i = 0; i < msg->nmembers; i++)
		if (!find(ms, msg->members[i]))
			members_add(ms, msg->members[i], now);
	return 0;
}

void members_refused(struct members *ms, enum member_refusal why)
{
	if ((unsigned)why < MEMBER_REFUSED_MAX)
		ms->refused[why]++;
}

void members_tick(struct members *ms, uint64_t now)
{
	uint64_t suspect = (uint64_t)ms->cfg.hb_ms * ms->cfg.suspect_missed;

	for (size_t i = 0; i < ms->n; i++) {
		struct member *m = &ms->m[i];
		uint64_t silent = now > m->heard_ms ? now - m->heard_ms : 0;

		if (m->state == MEMBER_LEFT)
			continue;
		m->state = silent >= ms->cfg.dead_ms ? MEMBER_DEAD :
			   silent >= suspect	    ? MEMBER_SUSPECT :
						      MEMBER_ALIVE;
	}
}

size_t members_count(const struct members *ms)
{
	return ms->n;
}

const struct member *members_at(const struct members *ms, size_t i)
{
	return i < ms->n ? &ms->m[i] : NULL;
}

unsigned members_voters(const struct members *ms)
{
	unsigned n = 1;

	for (size_t i = 0; i < ms->n; i++)
		n += ms->m[i].state != MEMBER_LEFT;
	return n;
}

unsigned long long members_refusals(const struct members *ms, enum member_refusal why)
{
	return (unsigned)why < MEMBER_REFUSED_MAX ? ms->refused[why] : 0;
}

void members_fill(const struct members *ms, struct gossip_msg *msg)
{
	msg->nmembers = 0;
	for (size_t i = 0; i < ms->n && msg->nmembers < GOSSIP_MAX_MEMBERS; i++)
		if (ms->m[i].state != MEMBER_LEFT)
			snprintf(msg->members[msg->nmembers++], LEASE_ID_MAX, "%s", ms->m[i].id);
}

static void write_member(struct jbuf *j, const struct member *m, uint64_t now)
{
	jbuf_obj_open(j);
	jbuf_key(j, "id");
	jbuf_str(j, m->id);
	jbuf_key(j, "role");
	jbuf_str(j, m->role < GOSSIP_ROLE_MAX ? gossip_role_name(m->role) : "unknown");
	jbuf_key(j, "rank");
	jbuf_u64(j, m->rank);
	jbuf_key(j, "state");
	jbuf_str(j, member_state_name(m->state));
	jbuf_key(j, "term");
	jbuf_u64(j, m->term);
	jbuf_key(j, "leader");
	jbuf_str(j, m->leader);
	jbuf_key(j, "heard_ms_ago");
	if (m->heard)
		jbuf_u64(j, now > m->heard_ms ? now - m->heard_ms : 0);
	else
		jbuf_null(j);
	jbuf_obj_close(j);
}

int members_listnodes(const struct members *ms, const struct members_self *self, uint64_t now,
		      struct buf *out)
{
	static const char *const refusal_names[MEMBER_REFUSED_MAX] = { "group", "token", "bad" };
	struct jbuf j;
	int ret;

	jbuf_init(&j);
	jbuf_obj_open(&j);
	jbuf_key(&j, "group");
	jbuf_str(&j, ms->group);
	jbuf_key(&j, "self");
	jbuf_obj_open(&j);
	jbuf_key(&j, "id");
	jbuf_str(&j, ms->self);
	jbuf_key(&j, "role");
	jbuf_str(&j, gossip_role_name(self->role));
	jbuf_key(&j, "lease");
	jbuf_str(&j, self->lease);
	jbuf_key(&j, "term");
	jbuf_u64(&j, self->term);
	jbuf_key(&j, "leader");
	jbuf_str(&j, self->leader);
	jbuf_obj_close(&j);
	jbuf_key(&j, "leader");
	jbuf_str(&j, self->leader);
	jbuf_key(&j, "members");
	jbuf_arr_open(&j);
	for (size_t i = 0; i < ms->n; i++)
		write_member(&j, &ms->m[i], now);
	jbuf_arr_close(&j);
	jbuf_key(&j, "refused");
	jbuf_obj_open(&j);
	for (unsigned i = 0; i < MEMBER_REFUSED_MAX; i++) {
		jbuf_key(&j, refusal_names[i]);
		jbuf_u64(&j, ms->refused[i]);
	}
	jbuf_obj_close(&j);
	jbuf_obj_close(&j);
	ret = jbuf_error(&j);
	if (!ret)
		ret = buf_append(out, j.out.data, j.out.len);
	jbuf_free(&j);
	return ret;
}
