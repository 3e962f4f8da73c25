/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A master's state on disk (cluster.state_file): its slaves and how far it merged each. */
#ifndef MP_STATE_FILE_H
#define MP_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Text, one fact per line, so an operator can read it:
 *   seq 1234                          the master's last report seq
 *   slave 10.0.0.2:8667 1764590000123 42   address, the slave's started_ms, last seq emitted
 * Written whole to a temporary file, fsync'd and renamed over the old one: a crash leaves
 * the old state or the new, never a mix. A restarted master keeps its slaves, continues its
 * own seq, and asks each slave since= the seq it had emitted.
 */
#define STATE_ADDR_MAX 256

struct state_slave {
	char addr[STATE_ADDR_MAX];
	uint64_t started_ms;
	uint64_t seq;
};

struct cluster_state {
	uint64_t seq;
	struct state_slave *slaves;
	size_t nslaves;
};

/*
 * Parses text. Returns 0, -EINVAL with "line N: reason" in err, or -ENOMEM. st is filled
 * only on success; free it with cluster_state_free().
 */
int state_parse(const char *text, size_t len, struct cluster_state *st, char *err, size_t errlen);
/* Reads path: 0, -ENOENT (no state yet), -EINVAL (err says where), or another -errno. */
int state_read(const char *path, struct cluster_state *st, char *err, size_t errlen);
/* Writes st atomically. Returns 0 or -errno. */
int state_write(const char *path, const struct cluster_state *st);
/* Adds one slave (copied). Returns 0, -EINVAL (address too long) or -ENOMEM. */
int state_add(struct cluster_state *st, const char *addr, uint64_t started_ms, uint64_t seq);
/* Accepts a zeroed state. */
void cluster_state_free(struct cluster_state *st);

#endif /* MP_STATE_FILE_H */
