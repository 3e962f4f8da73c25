/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A slave or master with cluster.gossip: its role's server callbacks plus gossip's. */
#ifndef MP_GOSSIP_NODE_H
#define MP_GOSSIP_NODE_H

#include <stdbool.h>

#include "cli/config.h"
#include "net/server.h"
#include "roles/gossip.h"

/*
 * Wraps a role's server callbacks: everything goes to the role except /cluster/gossip
 * messages and the /cluster/ calls, which go to gossip (membership, not the master's static
 * slave list). Serve with gossip_node_callbacks and the node as ctx.
 */
struct gossip_node;

/*
 * From the configuration: advertise (default: first non-loopback address and serverport),
 * group, token, seeds, role (witness, candidate for slave: false, else slave), rank, and
 * vote_file (default mysqlprobe.vote beside config_path, or in the working directory).
 * gcb/gctx: the role's part in the election (a master's seqs and takeover), or NULL.
 * NULL with errno set after a message on stderr.
 */
struct gossip_node *gossip_node_new(const struct mp_config *c, const char *config_path,
				    const struct server_callbacks *inner, void *inner_ctx,
				    const struct gossip_callbacks *gcb, void *gctx);
/* The server the node is served by, for its refusal counters. */
void gossip_node_set_server(struct gossip_node *n, struct server *s);
struct gossip *gossip_node_gossip(struct gossip_node *n);
/* Accepts NULL. Free the server first. */
void gossip_node_free(struct gossip_node *n);

extern const struct server_callbacks gossip_node_callbacks;

#endif /* MP_GOSSIP_NODE_H */
