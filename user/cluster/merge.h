/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A master's per-period merge of its slaves' reports: exact, deduplicated, on time. */
#ifndef MP_MERGE_H
#define MP_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/agg.h"
#include "report/report.h"
#include "report/report_msg.h"

/*
 * Periods are named by their end, a multiple of period_ms: a slave's first (partial) period
 * and its last (cut by a stop) end inside the period they belong to and are rounded up to
 * its end, so they merge with the others'. Each open period has one aggregator; rows of
 * equal key add (agg_merge_stat), so the merged report equals what one agent seeing all the
 * traffic would have counted.
 *
 * A period is emitted (merge_poll) once every expected node that is up has delivered it, or
 * wait_ms after its end, whichever comes first, and always in order. A report for a period
 * already emitted becomes a late report of its own. Reports are deduplicated per node on
 * (started_ms, seq): a node's seq starts over when it restarts, and a higher started_ms says
 * it did.
 *
 * Not thread-safe: the caller serialises every call.
 */
struct merge;

struct merge_config {
	struct agg_config acfg; /* the aggregators of merged periods */
	uint64_t period_ms; /* >= 1 */
	uint64_t wait_ms; /* after a period's end, emit it even if nodes are missing */
};

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct merge *merge_new(const struct merge_config *cfg);
/* Accepts NULL. */
void merge_free(struct merge *m);

/*
 * Expects reports from name from the next period on; up says whether it is reachable now
 * (a node that is down is not waited for). started_ms/last_seq: what was already merged of it
 * (from a state file), 0 when nothing. Returns 0, -EEXIST, -EINVAL or -ENOMEM.
 */
int merge_node_add(struct merge *m, const char *name, uint64_t started_ms, uint64_t last_seq);
/* Stops expecting name. Returns 0 or -ENOENT. */
int merge_node_remove(struct merge *m, const char *name);
/* Returns 0 or -ENOENT. */
int merge_node_set_up(struct merge *m, const char *name, bool up);

/* What the merge knows of one node (for /cluster/listnodes and the state file). */
struct merge_node_info {
	const char *name;
	bool up;
	uint64_t started_ms; /* of the last report emitted (in a period that went out) */
	uint64_t last_seq;
	uint64_t merged_seq; /* of the last report merged: where a reconnect resumes */
	uint64_t merged_started_ms; /* the started_ms that merged_seq belongs to */
	uint64_t last_period_end_ms;
	uint64_t merged, late, duplicates; /* reports */
	uint64_t missing; /* periods emitted without it */
};

size_t merge_node_count(const struct merge *m);
/* Entry i, valid until the next call that changes nodes. Returns 0 or -EINVAL. */
int merge_node_at(const struct merge *m, size_t i, struct merge_node_info *out);

enum merge_result {
	MERGE_MERGED = 0, /* into an open period */
	MERGE_LATE = 1, /* its period was emitted: queued as a late report */
	MERGE_DUPLICATE = 2, /* already merged: ignored */
	MERGE_UNKNOWN = 3, /* no such node: ignored */
};

/*
 * Offers one report of node name as report_msg_parse() read it (borrowed): its rows go
 * straight into the period's aggregator. text resolves a template id the report itself
 * carries no text for (the slave sent it in an earlier report); may be NULL. Returns an enum
 * merge_result or -ENOMEM.
 */
int merge_offer(struct merge *m, const char *name, const struct report_msg *msg,
		agg_text_fn text, void *text_ctx);

/* One report to emit: the caller owns a and nodes and sets the identity (seq, node, ...). */
struct merge_out {
	struct agg *a;
	struct report_capture c;
	uint64_t period_start_ms, period_end_ms;
	bool late;
	struct report_node *nodes;
	size_t nnodes;
};

/*
 * The next report due at now_ms (wall clock): 1 with *out filled, 0 when none is due, or
 * -ENOMEM. Periods up to now_ms exist even when no node delivered, so every period is
 * emitted once. Late reports come out as soon as they are offered.
 */
int merge_poll(struct merge *m, uint64_t now_ms, struct merge_out *out);

/* At exit: the oldest open period whatever its deadline, or a late report. 1, 0 or -ENOMEM. */
int merge_poll_open(struct merge *m, struct merge_out *out);

/* Frees what a merge_out holds. Accepts a zeroed one. */
void merge_out_free(struct merge_out *out);

/* The end of the last period emitted (0 before the first). */
uint64_t merge_emitted_end(const struct merge *m);

/*
 * A merge that takes over from another master (gossip failover): its first period is the one
 * after end_ms, the last one the other emitted, and every period from there on is emitted
 * (empty if nobody delivered it). The periods already over at now_ms wait for their nodes
 * (replaying since= what the other emitted) until now_ms + grace_ms + wait_ms. Only before
 * the first offer or poll: 0, -EBUSY or -ENOMEM.
 */
int merge_resume_after(struct merge *m, uint64_t end_ms, uint64_t now_ms, uint64_t grace_ms);

/*
 * Until until_ms no period is emitted incomplete, whatever its deadline: a new leader's
 * slaves replay periods long over, which would otherwise go out with the first node's share
 * and make the others' late.
 */
void merge_hold(struct merge *m, uint64_t until_ms);

#endif /* MP_MERGE_H */
