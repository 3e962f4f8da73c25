/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The one message nodes of a gossip cluster exchange: heartbeat, election and leave (JSON). */
#ifndef MP_GOSSIP_MSG_H
#define MP_GOSSIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/lease.h"
#include "lib/buf.h"

/*
 * A text websocket frame carrying one JSON object:
 *   {"v":1,"group":"g","from":"10.0.0.2:8667","to":"","role":"candidate","rank":1,
 *    "term":3,"leader":"10.0.0.2:8667","leaving":false,
 *    "lease":{"kind":"hb","round":5,"pre":false,"ok":true},
 *    "seqs":[["10.0.0.5:8667",1764590000123,42]],"emitted":1764590001000,
 *    "members":["10.0.0.3:8667","10.0.0.4:8667"]}
 * Every node sends one every 500 ms on each link (a heartbeat: "lease" absent, or the
 * leader's "hb"), and one whenever the election (cluster/lease) has something to say. "seqs"
 * (leader only): per slave, the started_ms and the last seq the leader merged and emitted, so
 * a standby that wins resumes each slave since= that seq; "emitted" (leader only, 0 before
 * its first): the end of the last period it emitted, where the winner's periods start. "members": whom the sender knows,
 * so a node that joined through one seed learns the rest. The token is not in it: it travels
 * in the link's Authorization header. Unknown keys are ignored (a newer peer may add some).
 */
#define GOSSIP_VERSION 1
#define GOSSIP_GROUP_MAX 64
#define GOSSIP_MAX_SEQS 64
#define GOSSIP_MAX_MEMBERS LEASE_MAX_VOTERS
#define GOSSIP_MSG_MAX (64u << 10) /* a larger frame is not a gossip message */

enum gossip_node_role {
	GOSSIP_SLAVE,     /* a slave: votes, never leads */
	GOSSIP_CANDIDATE, /* slave: false: may lead */
	GOSSIP_WITNESS,   /* cluster.witness: votes only, to make a majority */
	GOSSIP_ROLE_MAX,
};

struct gossip_seq {
	char slave[LEASE_ID_MAX];
	uint64_t started_ms;
	uint64_t seq;
};

struct gossip_msg {
	char group[GOSSIP_GROUP_MAX];
	char from[LEASE_ID_MAX];
	char to[LEASE_ID_MAX]; /* "" = every member */
	uint32_t role;         /* enum gossip_node_role of the sender */
	uint32_t rank;
	uint64_t term;
	char leader[LEASE_ID_MAX]; /* "" = none seen */
	bool leaving;
	struct lease_msg lease; /* kind 0: a plain heartbeat */
	size_t nseqs;
	struct gossip_seq seqs[GOSSIP_MAX_SEQS];
	uint64_t emitted_end_ms; /* the leader's last emitted period end; 0: none */
	size_t nmembers;
	char members[GOSSIP_MAX_MEMBERS][LEASE_ID_MAX];
};

/* Appends m as JSON to out. Returns 0, -EINVAL (a field out of range) or -ENOMEM. */
int gossip_msg_write(const struct gossip_msg *m, struct buf *out);
/*
 * Parses one frame into m (large: allocate it). Returns 0, -EINVAL with a static reason in
 * *why (not JSON, wrong version, a missing or malformed field, an address that is not
 * HOST:PORT, too many items), or -ENOMEM. m is meaningful only on success.
 */
int gossip_msg_parse(const char *text, size_t len, struct gossip_msg *m, const char **why);
const char *gossip_role_name(uint32_t role);

#endif /* MP_GOSSIP_MSG_H */
