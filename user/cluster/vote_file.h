/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A node's last election vote on disk, so that it never votes twice in one term. */
#ifndef MP_VOTE_FILE_H
#define MP_VOTE_FILE_H

#include <stddef.h>

#include "cluster/lease.h"

/*
 * Text:
 *   term 12
 *   voted_for 10.0.0.2:8667
 * Written atomically (lib/file_atomic) before the vote is answered (lease.h, PERSIST).
 */

/* Parses text. Returns 0 or -EINVAL with "line N: reason" in err. */
int vote_parse(const char *text, size_t len, struct lease_vote *v, char *err, size_t errlen);
/* Reads path: 0, -ENOENT (never voted), -EINVAL (err says where), or another -errno. */
int vote_read(const char *path, struct lease_vote *v, char *err, size_t errlen);
/* Writes v atomically. Returns 0 or -errno. */
int vote_write(const char *path, const struct lease_vote *v);

#endif /* MP_VOTE_FILE_H */
