// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A slave or master with cluster.gossip: its role's server callbacks plus gossip's. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cluster/addr.h"
#include "roles/gossip_node.h"

struct gossip_node {
	struct gossip *g;
	const struct server_callbacks *inner;
	void *inner_ctx;
	struct server *_Atomic server;
};

/* The first non-loopback IPv4 address that is up (else IPv6), as HOST:PORT. */
static int default_advertise(int port, char *out, size_t len)
{
	struct ifaddrs *ifs, *i;
	char host[NI_MAXHOST] = "";
	int fam;

	if (getifaddrs(&ifs))
		return -errno;
	for (fam = AF_INET; !host[0] && fam; fam = fam == AF_INET ? AF_INET6 : 0)
		for (i = ifs; i && !host[0]; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != fam ||
			    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
				continue;
			if (getnameinfo(i->ifa_addr, fam == AF_INET ? sizeof(struct sockaddr_in)
								    : sizeof(struct sockaddr_in6),
					host, sizeof(host), NULL, 0, NI_NUMERICHOST))
				host[0] = '\0';
			/* A link-local IPv6 address needs its zone: not reachable as HOST:PORT. */
			if (strchr(host, '%'))
				host[0] = '\0';
		}
	freeifaddrs(ifs);
	if (!host[0])
		return -EADDRNOTAVAIL;
	snprintf(out, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	return 0;
}

/* cluster.vote_file, or mysqlprobe.vote beside the config file. */
static char *vote_path(const struct mp_config *c, const char *config_path)
{
	const char *slash;
	char *p;

	if (c->cluster_vote_file && *c->cluster_vote_file)
		return strdup(c->cluster_vote_file);
	slash = config_path ? strrchr(config_path, '/') : NULL;
	if (!slash)
		return strdup("mysqlprobe.vote");
	if (asprintf(&p, "%.*s/mysqlprobe.vote", (int)(slash - config_path), config_path) < 0)
		return NULL;
	return p;
}

struct gossip_node *gossip_node_new(const struct mp_config *c, const char *config_path,
				    const struct server_callbacks *inner, void *inner_ctx,
				    const struct gossip_callbacks *gcb, void *gctx)
{
	struct gossip_node *n = calloc(1, sizeof(*n));
	char advertise[LEASE_ID_MAX];
	struct gossip_cfg gc = {
		.group = c->cluster_group, .token = c->cluster_token,
		.seeds = (const char *const *)c->cluster_seeds.v, .nseeds = c->cluster_seeds.n,
		.role = c->cluster_witness ? GOSSIP_WITNESS
			: c->slave	   ? GOSSIP_SLAVE
					   : GOSSIP_CANDIDATE,
		.rank = (unsigned)c->cluster_rank,
	};
	char *vote = vote_path(c, config_path);
	int err = 0;

	if (!n || !vote) {
		err = -ENOMEM;
		goto cleanup;
	}
	n->inner = inner;
	n->inner_ctx = inner_ctx;
	if (c->cluster_advertise && *c->cluster_advertise)
		snprintf(advertise, sizeof(advertise), "%s", c->cluster_advertise);
	else
		err = default_advertise((int)c->serverport, advertise, sizeof(advertise));
	if (err) {
		fprintf(stderr, "mysqlprobe: cluster.advertise: no address to default to (%s): "
				"set it\n", strerror(-err));
		goto cleanup;
	}
	gc.advertise = advertise;
	gc.vote_file = vote;
	n->g = gossip_new(&gc, gcb, gctx);
	if (!n->g) {
		err = -errno;
		fprintf(stderr, "mysqlprobe: cluster.gossip: cannot start: %s\n", strerror(errno));
	}
cleanup:
	free(vote);
	if (err) {
		gossip_node_free(n);
		errno = -err;
		return NULL;
	}
	return n;
}

void gossip_node_set_server(struct gossip_node *n, struct server *s)
{
	atomic_store(&n->server, s);
}

struct gossip *gossip_node_gossip(struct gossip_node *n)
{
	return n->g;
}

void gossip_node_free(struct gossip_node *n)
{
	if (!n)
		return;
	gossip_free(n->g);
	free(n);
}

static void *client_open(void *ctx, int json)
{
	struct gossip_node *n = ctx;

	return n->inner->client_open ? n->inner->client_open(n->inner_ctx, json) : n;
}

static void client_close(void *ctx, void *st)
{
	struct gossip_node *n = ctx;

	if (n->inner->client_close)
		n->inner->client_close(n->inner_ctx, st);
}

static const struct report_wire *wire(void *ctx, const void *report)
{
	struct gossip_node *n = ctx;

	return n->inner->wire(n->inner_ctx, report);
}

static int set_period(void *ctx, unsigned ms)
{
	struct gossip_node *n = ctx;

	return n->inner->set_report_period_ms ? n->inner->set_report_period_ms(n->inner_ctx, ms)
					      : -EOPNOTSUPP;
}

static int metrics(void *ctx, struct buf *out)
{
	struct gossip_node *n = ctx;

	return n->inner->metrics ? n->inner->metrics(n->inner_ctx, out) : 0;
}

static int status(void *ctx, struct buf *out)
{
	struct gossip_node *n = ctx;

	return n->inner->status ? n->inner->status(n->inner_ctx, out) : 0;
}

static int health(void *ctx, struct buf *why)
{
	struct gossip_node *n = ctx;

	return n->inner->health ? n->inner->health(n->inner_ctx, why) : 0;
}

static uint64_t started_ms(void *ctx)
{
	struct gossip_node *n = ctx;

	return n->inner->started_ms ? n->inner->started_ms(n->inner_ctx) : 0;
}

static int on_gossip(void *ctx, const char *data, size_t len)
{
	struct gossip_node *n = ctx;

	return gossip_on_message(n->g, data, len);
}

static int cluster(void *ctx, enum http_cluster_op op, const char *addr, struct buf *body)
{
	struct gossip_node *n = ctx;
	struct server *s = atomic_load(&n->server);
	struct server_stats st;
	char host[ADDR_HOST_MAX];
	const char *why;
	int port, err;

	if (op == HTTP_CLUSTER_LIST) {
		if (s) {
			server_get_stats(s, &st);
			gossip_count_refused_token(n->g, st.gossip_refused);
		}
		err = gossip_listnodes(n->g, body);
		return err ?: buf_puts(body, "\n") ?: 200;
	}
	if (op == HTTP_CLUSTER_LEAVE) {
		gossip_leave(n->g);
		return buf_puts(body, "{\"left\":true}\n") ?: 200;
	}
	if (addr_parse(addr, host, &port, &why))
		return buf_printf(body, "{\"error\":\"addr: %s\"}\n", why) ?: 400;
	err = op == HTTP_CLUSTER_JOIN ? gossip_join(n->g, addr) : gossip_remove(n->g, addr);
	if (err == -EEXIST)
		return buf_puts(body, "{\"error\":\"addr: already a member\"}\n") ?: 409;
	if (err == -ENOENT)
		return buf_puts(body, "{\"error\":\"addr: not a member\"}\n") ?: 404;
	if (err == -EINVAL)
		return buf_puts(body, "{\"error\":\"addr: this node itself\"}\n") ?: 400;
	if (err)
		return err;
	return buf_printf(body, "{\"%s\":true}\n", op == HTTP_CLUSTER_JOIN ? "joined" : "removed")
		       ?: 200;
}

/* A slave serves its stream only to the leader of the latest term it knows. */
static int stale_term(void *ctx, uint64_t term)
{
	struct gossip_node *n = ctx;

	return gossip_term(n->g) > term;
}

const struct server_callbacks gossip_node_callbacks = {
	.client_open = client_open,
	.client_close = client_close,
	.wire = wire,
	.set_report_period_ms = set_period,
	.metrics = metrics,
	.status = status,
	.health = health,
	.cluster = cluster,
	.started_ms = started_ms,
	.gossip = on_gossip,
	.stale_term = stale_term,
};
