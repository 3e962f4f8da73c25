/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Who is in a gossip cluster and how recently each was heard: the membership table. */
#ifndef MP_MEMBERS_H
#define MP_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/gossip_msg.h"
#include "lib/buf.h"

/*
 * Pure like cluster/lease: no I/O, no clock (every call takes now, monotonic ms). The caller
 * keeps one link per member that has not left and feeds every message it reads here first:
 * a message of another group is refused (counted) and its sender never becomes a member.
 * The token is checked by the link (net/), which reports refusals with members_refused().
 *
 * A member is alive while heard within suspect_missed heartbeats, then suspect, then dead
 * once silent for dead_ms; left when it said so (a later heartbeat of its own brings it back).
 * A member added by a seed, /cluster/join or another member's list counts from when it was
 * added, so an address nobody answers at is dead after dead_ms, not forever "joining".
 * Single-threaded: driven by one thread.
 */
enum member_state {
	MEMBER_ALIVE,
	MEMBER_SUSPECT,
	MEMBER_DEAD,
	MEMBER_LEFT,
};

enum member_refusal {
	MEMBER_REFUSED_GROUP, /* another cluster.group */
	MEMBER_REFUSED_TOKEN, /* a link without (or with a wrong) cluster.token */
	MEMBER_REFUSED_BAD,   /* a message that does not parse */
	MEMBER_REFUSED_MAX,
};

struct member {
	char id[LEASE_ID_MAX];
	uint32_t role; /* enum gossip_node_role; GOSSIP_ROLE_MAX until heard */
	uint32_t rank;
	uint64_t term;
	char leader[LEASE_ID_MAX];
	enum member_state state;
	uint64_t heard_ms; /* last message, or when it was added */
	bool heard;        /* a message came from it at least once */
};

struct members_cfg {
	const char *self;  /* cluster.advertise */
	const char *group; /* cluster.group */
	unsigned hb_ms;          /* 500 */
	unsigned suspect_missed; /* 3 */
	unsigned dead_ms;        /* 2500 */
};

struct members;

/* Returns NULL with errno set (EINVAL: a bad id, group or timing; ENOMEM). */
struct members *members_new(const struct members_cfg *cfg);
void members_free(struct members *ms);

/*
 * Adds id (a seed, /cluster/join, or a name another member listed). Returns 0, -EEXIST
 * (known; a member that had left is brought back), -EINVAL (not HOST:PORT, or self), -ENOSPC.
 */
int members_add(struct members *ms, const char *id, uint64_t now);
/* Forgets id entirely (an operator's removal). Returns 0 or -ENOENT. */
int members_remove(struct members *ms, const char *id);

/*
 * A parsed message from a link. Returns 0 (sender updated, names it lists added), -EPERM
 * (another group: refused and counted) or -EINVAL (from self, or the table is full).
 */
int members_on_msg(struct members *ms, const struct gossip_msg *m, uint64_t now);
/* Counts a refusal seen by a link. */
void members_refused(struct members *ms, enum member_refusal why);
/* Moves members between alive, suspect and dead by how long they have been silent. */
void members_tick(struct members *ms, uint64_t now);

size_t members_count(const struct members *ms);
/* Member i (0 <= i < members_count()), or NULL. Valid until the next call that adds/removes. */
const struct member *members_at(const struct members *ms, size_t i);
const struct member *members_find(const struct members *ms, const char *id);
/* Voters for a lease majority: self and every member that has not left (dead ones too). */
unsigned members_voters(const struct members *ms);
unsigned long long members_refusals(const struct members *ms, enum member_refusal why);
/* Fills the "members" list of an outgoing message: every member that has not left. */
void members_fill(const struct members *ms, struct gossip_msg *m);

/*
 * /cluster/listnodes: appends a JSON object with self (its role, state "alive", term and
 * leader as given), every member with role, state, term, the leader it names and how long
 * ago it was heard, and the refusal counters. Returns 0 or -ENOMEM.
 */
struct members_self {
	uint32_t role;      /* enum gossip_node_role */
	const char *lease;  /* lease_role_name() of this node */
	uint64_t term;
	const char *leader; /* "" = none */
};
int members_listnodes(const struct members *ms, const struct members_self *self, uint64_t now,
		      struct buf *out);
const char *member_state_name(enum member_state s);

#endif /* MP_MEMBERS_H */
