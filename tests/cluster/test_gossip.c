// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the gossip message (round trip, refusals) and the membership table (states, groups). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/gossip_msg.h"
#include "cluster/members.h"
#include "lib/jread.h"

static struct gossip_msg *msg_new(const char *from, const char *group)
{
	struct gossip_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	snprintf(m->from, sizeof(m->from), "%s", from);
	snprintf(m->group, sizeof(m->group), "%s", group);
	return m;
}

static void test_round_trip(void **unused)
{
	struct gossip_msg *m = msg_new("10.0.0.2:8667", "g1"), *back = calloc(1, sizeof(*back));
	struct buf b = { 0 };
	const char *why = NULL;

	(void)unused;
	m->role = GOSSIP_CANDIDATE;
	m->rank = 1;
	m->term = 3;
	snprintf(m->leader, sizeof(m->leader), "[fd00::2]:8667");
	m->lease = (struct lease_msg){ .kind = LEASE_MSG_VOTE, .term = 4, .pre = 1, .ok = 1 };
	m->nseqs = 1;
	snprintf(m->seqs[0].slave, LEASE_ID_MAX, "db-1:8667");
	m->seqs[0].started_ms = 1764590000123ull;
	m->seqs[0].seq = 42;
	m->emitted_end_ms = 1764590001000ull;
	m->nmembers = 2;
	snprintf(m->members[0], LEASE_ID_MAX, "10.0.0.3:8667");
	snprintf(m->members[1], LEASE_ID_MAX, "10.0.0.4:8667");
	assert_int_equal(gossip_msg_write(m, &b), 0);
	assert_int_equal(gossip_msg_parse(b.data, b.len, back, &why), 0);
	assert_int_equal(memcmp(m, back, sizeof(*m)), 0);
	/* A plain heartbeat has no lease object. */
	buf_reset(&b);
	m->lease.kind = 0;
	m->lease.term = m->lease.pre = m->lease.ok = 0;
	assert_int_equal(gossip_msg_write(m, &b), 0);
	assert_null(strstr(b.data, "\"lease\""));
	assert_int_equal(gossip_msg_parse(b.data, b.len, back, &why), 0);
	assert_int_equal(memcmp(m, back, sizeof(*m)), 0);
	m->role = 9;
	assert_int_equal(gossip_msg_write(m, &b), -EINVAL);
	buf_free(&b);
	free(m);
	free(back);
}

static void parse_fails(const char *text, const char *want)
{
	struct gossip_msg *m = calloc(1, sizeof(*m));
	const char *why = NULL;

	assert_int_equal(gossip_msg_parse(text, strlen(text), m, &why), -EINVAL);
	assert_string_equal(why, want);
	free(m);
}

#define HEAD "{\"v\":1,\"group\":\"g\",\"from\":\"a:1\",\"role\":\"slave\",\"term\":1"

static void test_parse_errors(void **unused)
{
	(void)unused;
	parse_fails("", "not a JSON object");
	parse_fails("[]", "not a JSON object");
	parse_fails("{\"v\":2}", "v: unsupported version (expected 1)");
	parse_fails("{\"v\":1,\"group\":7}", "group: expected a string of at most 63 bytes");
	parse_fails("{\"v\":1,\"group\":\"g\",\"from\":\"nope\"}", "from: expected HOST:PORT");
	parse_fails(HEAD ",\"to\":\"x\"}", "to: expected HOST:PORT or \"\"");
	parse_fails(HEAD ",\"leader\":\"a:0\"}", "leader: expected HOST:PORT or \"\"");
	parse_fails("{\"v\":1,\"group\":\"g\",\"from\":\"a:1\",\"role\":\"boss\"}",
		    "role: expected slave, candidate or witness");
	parse_fails(HEAD ",\"rank\":-1}", "rank: expected an unsigned 32-bit integer");
	parse_fails("{\"v\":1,\"group\":\"g\",\"from\":\"a:1\",\"role\":\"slave\"}",
		    "term: expected an unsigned integer");
	parse_fails(HEAD ",\"leaving\":1}", "leaving: expected a boolean");
	parse_fails(HEAD ",\"lease\":{\"kind\":\"x\"}}",
		    "lease.kind: expected hb, hb_ack, vote_req, vote or leave");
	parse_fails(HEAD ",\"lease\":{\"kind\":\"hb\"}}",
		    "lease: round and term must be unsigned integers");
	parse_fails(HEAD ",\"lease\":{\"kind\":\"hb\",\"term\":1,\"ok\":3}}",
		    "lease: pre and ok must be booleans");
	parse_fails(HEAD ",\"emitted\":-1}", "emitted: expected an unsigned integer");
	parse_fails(HEAD ",\"seqs\":[[\"a:1\",1]]}",
		    "seqs: expected [\"HOST:PORT\", started_ms, seq]");
	parse_fails(HEAD ",\"members\":[\"a\\u0000:1\"]}", "members: expected HOST:PORT strings");
	parse_fails(HEAD ",\"group\":\"h\"}", "not a JSON object"); /* duplicate key */
}

static struct members *table(const char *self)
{
	struct members_cfg cfg = {
		.self = self, .group = "g", .hb_ms = 500, .suspect_missed = 3, .dead_ms = 2500,
	};
	struct members *ms = members_new(&cfg);

	assert_non_null(ms);
	return ms;
}

static void test_members_states(void **unused)
{
	struct members *ms = table("a:1");
	struct gossip_msg *m = msg_new("b:1", "g");
	const struct member *b;

	(void)unused;
	assert_int_equal(members_add(ms, "a:1", 0), -EINVAL); /* self */
	assert_int_equal(members_add(ms, "bad", 0), -EINVAL);
	assert_int_equal(members_add(ms, "c:1", 0), 0);
	assert_int_equal(members_add(ms, "c:1", 0), -EEXIST);
	m->role = GOSSIP_SLAVE;
	m->term = 2;
	m->nmembers = 1;
	snprintf(m->members[0], LEASE_ID_MAX, "d:1");
	assert_int_equal(members_on_msg(ms, m, 100), 0);
	assert_int_equal(members_count(ms), 3); /* c, b, and d it listed */
	assert_int_equal(members_voters(ms), 4);
	b = members_find(ms, "b:1");
	assert_non_null(b);
	assert_int_equal(b->term, 2);
	/* 3 missed heartbeats: suspect; 2.5 s: dead; heard again: alive. */
	members_tick(ms, 100 + 1499);
	assert_int_equal(b->state, MEMBER_ALIVE);
	members_tick(ms, 100 + 1500);
	assert_int_equal(b->state, MEMBER_SUSPECT);
	members_tick(ms, 100 + 2500);
	assert_int_equal(b->state, MEMBER_DEAD);
	assert_int_equal(members_voters(ms), 4); /* the dead still count for a majority */
	assert_int_equal(members_on_msg(ms, m, 3000), 0);
	assert_int_equal(b->state, MEMBER_ALIVE);
	/* c was added at 0 and never answered. */
	assert_int_equal(members_find(ms, "c:1")->state, MEMBER_DEAD);
	/* Leaving: not a voter any more, not listed to others; its own heartbeat brings it back. */
	m->leaving = true;
	assert_int_equal(members_on_msg(ms, m, 3100), 0);
	assert_int_equal(b->state, MEMBER_LEFT);
	assert_int_equal(members_voters(ms), 3);
	members_tick(ms, 10000);
	assert_int_equal(b->state, MEMBER_LEFT);
	{
		struct gossip_msg *out = msg_new("a:1", "g");

		members_fill(ms, out);
		assert_int_equal(out->nmembers, 2);
		free(out);
	}
	m->leaving = false;
	assert_int_equal(members_on_msg(ms, m, 10001), 0);
	assert_int_equal(b->state, MEMBER_ALIVE);
	assert_int_equal(members_remove(ms, "c:1"), 0);
	assert_int_equal(members_remove(ms, "c:1"), -ENOENT);
	members_free(ms);
	free(m);
}

static void test_members_refuse_group(void **unused)
{
	struct members *ms = table("a:1");
	struct gossip_msg *m = msg_new("x:1", "other");

	(void)unused;
	assert_int_equal(members_on_msg(ms, m, 0), -EPERM);
	assert_int_equal(members_count(ms), 0);
	assert_int_equal(members_refusals(ms, MEMBER_REFUSED_GROUP), 1);
	members_refused(ms, MEMBER_REFUSED_TOKEN);
	assert_int_equal(members_refusals(ms, MEMBER_REFUSED_TOKEN), 1);
	snprintf(m->group, sizeof(m->group), "g");
	snprintf(m->from, sizeof(m->from), "a:1");
	assert_int_equal(members_on_msg(ms, m, 0), -EINVAL); /* from self */
	members_free(ms);
	free(m);
}

static void test_listnodes(void **unused)
{
	struct members *ms = table("a:1");
	struct gossip_msg *m = msg_new("b:1", "g");
	struct members_self self = {
		.role = GOSSIP_CANDIDATE, .lease = "leader", .term = 5, .leader = "a:1",
	};
	struct buf b = { 0 };
	struct jread r = { 0 };
	jnode_t *mem;
	uint64_t term;

	(void)unused;
	m->role = GOSSIP_SLAVE;
	m->term = 5;
	snprintf(m->leader, sizeof(m->leader), "a:1");
	assert_int_equal(members_on_msg(ms, m, 10), 0);
	assert_int_equal(members_add(ms, "c:1", 10), 0);
	assert_int_equal(members_listnodes(ms, &self, 20, &b), 0);
	assert_int_equal(jread_load(&r, b.data, b.len), 0);
	assert_string_equal(jread_str(jread_get(&r, jread_root(&r), "leader"), NULL), "a:1");
	mem = jread_get(&r, jread_root(&r), "members");
	assert_int_equal(jread_len(mem), 2);
	assert_string_equal(jread_str(jread_get(&r, jread_at(&r, mem, 0), "role"), NULL), "slave");
	assert_int_equal(jread_u64(jread_get(&r, jread_at(&r, mem, 0), "term"), &term), 0);
	assert_int_equal(term, 5);
	assert_string_equal(jread_str(jread_get(&r, jread_at(&r, mem, 1), "role"), NULL),
			    "unknown");
	jread_free(&r);
	buf_free(&b);
	members_free(ms);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_members_states),
		cmocka_unit_test(test_members_refuse_group),
		cmocka_unit_test(test_listnodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
