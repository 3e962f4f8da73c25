// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the election and lease state machine on a simulated cluster driven by a fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/lease.h"
#include "cluster/vote_file.h"

/*
 * The simulation plays the e2e cases: nodes are processes (killed, stopped, restarted), links
 * are TCP connections (a blocked link drops what is sent on it, a stopped node receives what
 * was queued when it resumes), time advances 1 ms per step. After every step it checks the
 * safety properties: at most one node may emit, one leader per term, one vote per term, and
 * every vote persisted before it was sent.
 */
#define NMAX 6
#define QMAX 8192
#define TMAX 256

struct node {
	char id[32];
	struct lease *l;
	bool cand, dead, stopped, left;
	unsigned rank;
	struct lease_vote disk;
	bool has_disk;
};

struct sim_msg {
	uint64_t at;
	int from, to;
	struct lease_msg m;
};

static struct sim {
	struct node n[NMAX];
	int nn;
	uint64_t now;
	struct sim_msg q[QMAX];
	size_t nq;
	bool blocked[NMAX][NMAX];
	unsigned lat[NMAX][NMAX];
	int term_leader[TMAX];
	int voted[NMAX][TMAX];
	int emitter_changes, last_emitter;
	int stood[NMAX][TMAX]; /* ROLE standing announced for (node, term) */
	unsigned disk[NMAX]; /* ms a vote write takes: what a node sends after it goes out later */
} S;

static const struct lease_cfg base_cfg = {
	.lease_ms = 2000, .renew_ms = 500, .rank_step_ms = 300, .retry_ms = 1000,
};

static int find(const char *id)
{
	for (int i = 0; i < S.nn; i++)
		if (!strcmp(S.n[i].id, id))
			return i;
	return -1;
}

static unsigned members(void)
{
	unsigned n = 0;

	for (int i = 0; i < S.nn; i++)
		n += !S.n[i].left;
	return n;
}

static void set_voters(void)
{
	for (int i = 0; i < S.nn; i++)
		if (S.n[i].l)
			lease_set_voters(S.n[i].l, members());
}

static void enqueue(int from, int to, const struct lease_msg *m, uint64_t later)
{
	if (S.n[to].dead || S.n[to].left || S.blocked[from][to] || S.blocked[to][from])
		return;
	assert_true(S.nq < QMAX);
	S.q[S.nq++] = (struct sim_msg){ .at = S.now + later + S.lat[from][to], .from = from,
					.to = to, .m = *m };
}

/* Executes a node's actions in order, as the agent does. */
static void run_actions(int i, const struct lease_out *out)
{
	bool persisted = false;
	uint64_t later = 0; /* the disk writes so far: the agent sends after them */

	for (size_t k = 0; k < out->n; k++) {
		const struct lease_action *a = &out->a[k];

		switch (a->kind) {
		case LEASE_ACT_PERSIST:
			assert_true(a->term >= S.n[i].disk.term);
			S.n[i].disk.term = a->term;
			snprintf(S.n[i].disk.voted_for, LEASE_ID_MAX, "%s", a->id);
			S.n[i].has_disk = persisted = true;
			later += S.disk[i];
			lease_persisted(S.n[i].l, a->term, S.now + later);
			break;
		case LEASE_ACT_SEND:
			if (a->msg.kind == LEASE_MSG_VOTE && a->msg.ok && !a->msg.pre) {
				int c = find(a->to);

				/* One vote per term, on disk before it is sent. */
				assert_true(persisted);
				assert_true(a->msg.term < TMAX);
				assert_true(S.voted[i][a->msg.term] < 0 ||
					    S.voted[i][a->msg.term] == c);
				S.voted[i][a->msg.term] = c;
				assert_int_equal(S.n[i].disk.term, a->msg.term);
				assert_string_equal(S.n[i].disk.voted_for, a->to);
			}
			if (!a->to[0]) {
				for (int j = 0; j < S.nn; j++)
					if (j != i)
						enqueue(i, j, &a->msg, later);
			} else {
				enqueue(i, find(a->to), &a->msg, later);
			}
			break;
		case LEASE_ACT_ROLE:
			assert_true(a->term < TMAX);
			if (a->role == LEASE_STANDING)
				S.stood[i][a->term]++;
			if (a->role == LEASE_LEADER) {
				assert_true(S.term_leader[a->term] < 0 || S.term_leader[a->term] == i);
				S.term_leader[a->term] = i;
			}
			break;
		default:
			fail();
		}
	}
}

static void start_node(int i)
{
	struct lease_cfg cfg = base_cfg;
	struct lease_out out = { 0 };

	cfg.self = S.n[i].id;
	cfg.candidate = S.n[i].cand;
	cfg.rank = S.n[i].rank;
	S.n[i].l = lease_new(&cfg, S.n[i].has_disk ? &S.n[i].disk : NULL, S.now);
	assert_non_null(S.n[i].l);
	S.n[i].dead = S.n[i].stopped = false;
	set_voters();
	lease_tick(S.n[i].l, S.now, &out);
	run_actions(i, &out);
}

static int add_node(const char *id, bool cand, unsigned rank)
{
	int i = S.nn++;

	snprintf(S.n[i].id, sizeof(S.n[i].id), "%s", id);
	S.n[i].cand = cand;
	S.n[i].rank = rank;
	for (int j = 0; j < NMAX; j++)
		S.lat[i][j] = S.lat[j][i] = 1;
	return i;
}

/* Two candidates (c0 rank 0, c1 rank 1) and three slaves, the e2e fleet. */
static int setup_fleet(void **state)
{
	(void)state;
	memset(&S, 0, sizeof(S));
	memset(S.term_leader, -1, sizeof(S.term_leader));
	memset(S.voted, -1, sizeof(S.voted));
	S.last_emitter = -1;
	S.now = 1000;
	add_node("c0:1", true, 0);
	add_node("c1:1", true, 1);
	add_node("s0:1", false, 0);
	add_node("s1:1", false, 0);
	add_node("s2:1", false, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < S.nn; i++)
		lease_free(S.n[i].l);
	return 0;
}

static void start_all(void)
{
	for (int i = 0; i < S.nn; i++)
		start_node(i);
}

static void deliver(void)
{
	size_t keep = 0;

	for (size_t k = 0; k < S.nq; k++) {
		struct sim_msg *m = &S.q[k];
		struct lease_out out = { 0 };

		if (S.n[m->to].dead || S.n[m->to].left)
			continue;
		if (m->at > S.now || S.n[m->to].stopped) {
			S.q[keep++] = *m;
			continue;
		}
		lease_on_msg(S.n[m->to].l, S.now, S.n[m->from].id, &m->m, &out);
		run_actions(m->to, &out);
	}
	S.nq = keep;
}

static bool running(int i)
{
	return !S.n[i].dead && !S.n[i].stopped && !S.n[i].left;
}

static int emitter(void)
{
	int who = -1;

	for (int i = 0; i < S.nn; i++) {
		if (!running(i) || !lease_may_emit(S.n[i].l, S.now))
			continue;
		assert_int_equal(who, -1); /* two masters never both emit */
		who = i;
	}
	return who;
}

static void step(void)
{
	int e;

	S.now++;
	deliver();
	for (int i = 0; i < S.nn; i++) {
		struct lease_out out = { 0 };

		if (!running(i) || lease_next_ms(S.n[i].l) > S.now)
			continue;
		lease_tick(S.n[i].l, S.now, &out);
		run_actions(i, &out);
	}
	e = emitter();
	if (e != S.last_emitter)
		S.emitter_changes++;
	S.last_emitter = e;
}

static void run_ms(unsigned ms)
{
	while (ms--)
		step();
}

/* Runs until someone emits (at most max ms); returns how long it took. */
static uint64_t until_emitter(unsigned max)
{
	uint64_t t0 = S.now;

	while (S.now - t0 < max && emitter() < 0)
		step();
	return S.now - t0;
}

/* Every running node names the same leader as the one emitting. */
static void assert_agree(int leader)
{
	for (int i = 0; i < S.nn; i++)
		if (running(i))
			assert_string_equal(lease_leader(S.n[i].l, S.now), S.n[leader].id);
	assert_int_equal(lease_role(S.n[leader].l), LEASE_LEADER);
}

static void kill_node(int i)
{
	S.n[i].dead = true;
	lease_free(S.n[i].l);
	S.n[i].l = NULL;
}

static void test_bootstrap(void **unused)
{
	(void)unused;
	start_all();
	/* Everyone waits one lease, then rank 0 stands and wins term 1. */
	assert_in_range(until_emitter(5000), 2000, 2100);
	assert_int_equal(emitter(), 0);
	assert_int_equal(lease_term(S.n[0].l), 1);
	run_ms(10000);
	assert_int_equal(emitter(), 0);
	assert_int_equal(S.emitter_changes, 1);
	assert_agree(0);
	assert_int_equal(lease_role(S.n[1].l), LEASE_STANDBY);
	assert_int_equal(lease_role(S.n[2].l), LEASE_VOTER);
	for (int i = 0; i < S.nn; i++)
		assert_int_equal(lease_term(S.n[i].l), 1);
}

static void settle(void)
{
	start_all();
	until_emitter(5000);
	run_ms(3000);
	assert_int_equal(emitter(), 0);
}

static void test_kill_leader(void **unused)
{
	uint64_t took;

	(void)unused;
	settle();
	for (int round = 0; round < 4; round++) {
		int old = emitter(), next;

		kill_node(old);
		took = until_emitter(5000);
		/* lease 2 s after the last heartbeat + the standby's rank wait, well within 5 s */
		assert_in_range(took, 1500, 2700);
		next = emitter();
		assert_int_not_equal(next, old);
		assert_true(S.n[next].cand);
		run_ms(1000);
		assert_agree(next);
		/* The killed one restarts with its vote file and becomes standby. */
		start_node(old);
		run_ms(2000);
		assert_int_equal(emitter(), next);
		assert_int_equal(lease_role(S.n[old].l), LEASE_STANDBY);
		assert_agree(next);
		assert_int_equal(lease_term(S.n[old].l), lease_term(S.n[next].l));
	}
}

/*
 * The standby's vote write takes 1.5 s (an fsync on a busy database host): its election runs
 * from when its requests went out, not from before the write, so it still wins, once. Timed
 * from before the write it gave up after 1 s each time, before the votes came back.
 */
static void test_slow_vote_write(void **unused)
{
	uint64_t took;

	(void)unused;
	settle();
	S.disk[1] = 1500;
	kill_node(0);
	took = until_emitter(8000);
	print_message("# took %llu ms, term %llu\n", (unsigned long long)took,
		      (unsigned long long)lease_term(S.n[1].l));
	assert_int_equal(emitter(), 1);
	assert_in_range(took, 1500 + 1500, 2700 + 1500);
	run_ms(3000);
	assert_int_equal(emitter(), 1);
	assert_agree(1);
}

/*
 * The rank-0 standby hears the leader's heartbeats sooner than the slaves do (40 ms): its view
 * runs out first and its pre-vote is refused by voters that still see the leader for ~40 ms.
 * Their refusal says so and it asks again then, instead of after the 1 s election timeout.
 */
static void test_standby_hears_first(void **unused)
{
	uint64_t took;

	(void)unused;
	settle();
	kill_node(0);
	until_emitter(5000);
	assert_int_equal(emitter(), 1);
	start_node(0); /* c0, rank 0, is now the standby */
	run_ms(3000);
	for (int s = 2; s < S.nn; s++)
		S.lat[1][s] = S.lat[s][1] = 40;
	run_ms(3000);
	kill_node(1);
	took = until_emitter(5000);
	assert_int_equal(emitter(), 0);
	assert_in_range(took, 1500, 2200);
}

static void test_sigstop_leader(void **unused)
{
	uint64_t term;

	(void)unused;
	settle();
	S.n[0].stopped = true;
	assert_in_range(until_emitter(5000), 1500, 2700);
	assert_int_equal(emitter(), 1);
	term = lease_term(S.n[1].l);
	assert_int_equal(term, 2);
	run_ms(5000 - 2700);
	/* SIGCONT: before anything is delivered its lease has expired, so it emits nothing. */
	S.n[0].stopped = false;
	assert_false(lease_may_emit(S.n[0].l, S.now));
	run_ms(1);
	assert_int_not_equal(lease_role(S.n[0].l), LEASE_LEADER);
	run_ms(2000);
	assert_int_equal(emitter(), 1);
	assert_int_equal(lease_role(S.n[0].l), LEASE_STANDBY);
	assert_int_equal(lease_term(S.n[0].l), term);
	assert_agree(1);
}

static void test_broken_standby_link(void **unused)
{
	(void)unused;
	settle();
	S.blocked[0][1] = true;
	run_ms(15000);
	/* The standby asked (pre-vote) but the slaves still see the leader: nothing changed. */
	for (int t = 0; t < TMAX; t++)
		assert_int_equal(S.stood[1][t], 0);
	assert_int_equal(emitter(), 0);
	assert_int_equal(S.emitter_changes, 1);
	for (int i = 0; i < S.nn; i++)
		assert_int_equal(lease_term(S.n[i].l), 1);
	assert_int_equal(lease_role(S.n[1].l), LEASE_STANDBY);
	/* Link back: the standby follows again. */
	S.blocked[0][1] = false;
	run_ms(1000);
	assert_agree(0);
}

static void test_leader_isolated(void **unused)
{
	uint64_t t0;

	(void)unused;
	settle();
	t0 = S.now;
	for (int j = 1; j < S.nn; j++)
		S.blocked[0][j] = true;
	/* The fenced leader stops within its lease; the standby starts after (no overlap). */
	while (lease_may_emit(S.n[0].l, S.now))
		step();
	assert_true(S.now - t0 <= 2000);
	assert_in_range(until_emitter(5000), 0, 1000);
	assert_int_equal(emitter(), 1);
	run_ms(5000);
	assert_int_equal(emitter(), 1);
	/* Healed: the old leader follows the higher term. */
	for (int j = 1; j < S.nn; j++)
		S.blocked[0][j] = false;
	run_ms(1000);
	assert_agree(1);
}

static void test_leader_leaves(void **unused)
{
	struct lease_out out = { 0 };

	(void)unused;
	settle();
	lease_leave(S.n[0].l, S.now, &out);
	run_actions(0, &out);
	assert_false(lease_may_emit(S.n[0].l, S.now));
	assert_int_equal(lease_role(S.n[0].l), LEASE_LEFT);
	S.n[0].left = true;
	set_voters();
	/* Handover at once: the rank wait (300 ms) only, not the 2 s lease. */
	assert_in_range(until_emitter(5000), 1, 400);
	assert_int_equal(emitter(), 1);
	run_ms(2000);
	assert_agree(1);
}

static void test_slave_leaves_and_dies(void **unused)
{
	struct lease_out out = { 0 };

	(void)unused;
	settle();
	lease_leave(S.n[2].l, S.now, &out);
	run_actions(2, &out);
	S.n[2].left = true;
	set_voters();
	kill_node(3);
	/* 4 voters, 3 alive: the leader keeps its majority. */
	run_ms(10000);
	assert_int_equal(emitter(), 0);
	assert_int_equal(S.emitter_changes, 1);
}

/* Two candidates of the same rank stand at once, with each slave reached first by another. */
static void two_standing(unsigned fast)
{
	S.n[1].rank = 0;
	/* The candidates hear each other last: each has its pre-vote majority before. */
	S.lat[0][1] = S.lat[1][0] = 5;
	for (int s = 2; s < S.nn; s++) {
		bool c0_first = (fast >> (s - 2)) & 1;

		S.lat[0][s] = S.lat[s][0] = c0_first ? 1 : 3;
		S.lat[1][s] = S.lat[s][1] = c0_first ? 3 : 1;
	}
	start_all();
	until_emitter(6000);
	assert_true(emitter() >= 0);
	run_ms(3000);
	assert_true(emitter() == 0 || emitter() == 1);
	assert_agree(emitter());
	/* Both stood for term 1 and one election decided it: nobody needed a second term. */
	assert_int_equal(S.stood[0][1], 1);
	assert_int_equal(S.stood[1][1], 1);
	assert_int_equal(lease_term(S.n[emitter()].l), 1);
}

static void test_two_standing(void **unused)
{
	(void)unused;
	for (unsigned fast = 0; fast < 8; fast++) {
		teardown(NULL);
		setup_fleet(NULL);
		two_standing(fast);
		/* The majority of slaves reached first decide. */
		assert_int_equal(emitter(), __builtin_popcount(fast) >= 2 ? 0 : 1);
	}
}

/* Four voters split two and two: nobody wins term 1; the retries are spread, one wins. */
static void test_split_vote(void **unused)
{
	(void)unused;
	S.n[1].rank = 0;
	S.nn = 4;
	S.lat[0][2] = S.lat[2][0] = 1;
	S.lat[1][2] = S.lat[2][1] = 3;
	S.lat[0][3] = S.lat[3][0] = 3;
	S.lat[1][3] = S.lat[3][1] = 1;
	start_all();
	assert_true(until_emitter(8000) < 8000);
	assert_true(S.term_leader[1] < 0); /* term 1 was split */
	assert_int_equal(S.stood[0][1] + S.stood[1][1], 2);
	run_ms(3000);
	assert_agree(emitter());
}

/* Two voters cannot elect after losing one; a witness gives the majority back. */
static void test_fewer_than_three(void **unused)
{
	(void)unused;
	S.nn = 2;
	start_all();
	until_emitter(5000);
	assert_int_equal(emitter(), 0);
	kill_node(0);
	assert_int_equal(until_emitter(10000), 10000);
	assert_int_equal(emitter(), -1);
	/* The same with a witness (a voter that is not a slave). */
	teardown(NULL);
	setup_fleet(NULL);
	S.nn = 3;
	start_all();
	until_emitter(5000);
	kill_node(0);
	assert_in_range(until_emitter(5000), 1500, 2700);
	assert_int_equal(emitter(), 1);
}

/* A restarted voter keeps its vote: it never grants another candidate the same term. */
static void test_vote_survives_restart(void **unused)
{
	struct lease_vote v = { .term = 7 };
	struct lease_cfg cfg = base_cfg;
	struct lease_msg req = { .kind = LEASE_MSG_VOTE_REQ, .term = 7 };
	struct lease_out out = { 0 };
	struct lease *l;

	(void)unused;
	snprintf(v.voted_for, sizeof(v.voted_for), "a:1");
	cfg.self = "s:1";
	l = lease_new(&cfg, &v, 0);
	lease_set_voters(l, 3);
	/* Within the first lease after a start nobody gets a vote. */
	lease_on_msg(l, 100, "b:1", &req, &out);
	assert_int_equal(out.n, 1);
	assert_false(out.a[0].msg.ok);
	out.n = 0;
	lease_on_msg(l, 5000, "b:1", &req, &out);
	assert_int_equal(out.a[0].kind, LEASE_ACT_SEND);
	assert_false(out.a[0].msg.ok);
	out.n = 0;
	lease_on_msg(l, 5001, "a:1", &req, &out);
	assert_int_equal(out.a[0].kind, LEASE_ACT_PERSIST);
	assert_int_equal(out.a[1].kind, LEASE_ACT_SEND);
	assert_true(out.a[1].msg.ok);
	lease_free(l);
}

static void test_bad_cfg_and_names(void **unused)
{
	struct lease_cfg cfg = base_cfg;

	(void)unused;
	assert_null(lease_new(&cfg, NULL, 0));
	assert_int_equal(errno, EINVAL);
	cfg.self = "x:1";
	cfg.renew_ms = 100; /* 20 rounds per lease: more than remembered */
	assert_null(lease_new(&cfg, NULL, 0));
	assert_string_equal(lease_role_name(LEASE_LEADER), "leader");
	assert_string_equal(lease_msg_name(LEASE_MSG_VOTE), "vote");
	assert_string_equal(lease_msg_name(99), "?");
}

static void test_vote_file(void **unused)
{
	struct lease_vote v = { .term = 12 }, back;
	char dir[] = "/tmp/mp-vote-XXXXXX", path[64], err[128];

	(void)unused;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vote", dir);
	assert_int_equal(vote_read(path, &back, err, sizeof(err)), -ENOENT);
	snprintf(v.voted_for, sizeof(v.voted_for), "[fd00::2]:8667");
	assert_int_equal(vote_write(path, &v), 0);
	assert_int_equal(vote_read(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.term, 12);
	assert_string_equal(back.voted_for, "[fd00::2]:8667");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(vote_parse("term x\n", 7, &back, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: term: expected one decimal number");
	assert_int_equal(vote_parse("term 3\n", 7, &back, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: voted_for missing");
	assert_int_equal(vote_parse("term 3\nvoted_for nope\n", 22, &back, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vote_parse("# c\nbogus\n", 10, &back, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: unknown line (expected term or voted_for)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bootstrap, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_kill_leader, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_slow_vote_write, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_standby_hears_first, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_sigstop_leader, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_broken_standby_link, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_leader_isolated, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_leader_leaves, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_slave_leaves_and_dies, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_two_standing, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_split_vote, setup_fleet, teardown),
		cmocka_unit_test_setup_teardown(test_fewer_than_three, setup_fleet, teardown),
		cmocka_unit_test(test_vote_survives_restart),
		cmocka_unit_test(test_bad_cfg_and_names),
		cmocka_unit_test(test_vote_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
