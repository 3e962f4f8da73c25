// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A master's link to one slave: /collector?since=SEQ, each message read back into rows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/puller.h"
#include "cluster/report_read.h"
#include "lib/buf.h"

struct puller {
	char *addr;
	uint64_t term;
	struct ws_link *link;
	struct puller_callbacks cb;
	void *ctx;
	struct report_read rd;
};

static int pl_path(void *ctx, struct buf *path)
{
	struct puller *p = ctx;
	uint64_t seq, started = 0;

	int ret;

	if (!p->cb.since(p->ctx, p->addr, &seq, &started))
		ret = buf_puts(path, "/collector?format=snappy");
	/* started= lets a restarted slave replay its new run from the start (see server.h). */
	else if (started)
		ret = buf_printf(path, "/collector?since=%llu&started=%llu",
				 (unsigned long long)seq, (unsigned long long)started);
	else
		ret = buf_printf(path, "/collector?since=%llu", (unsigned long long)seq);
	/* A gossip leader says its term: a slave that knows a later one refuses it. */
	if (!ret && p->term)
		ret = buf_printf(path, "&term=%llu", (unsigned long long)p->term);
	return ret;
}

static void pl_opened(void *ctx)
{
	struct puller *p = ctx;

	p->cb.state(p->ctx, p->addr, true, 0, "connected");
}

static void pl_closed(void *ctx, int http_status, const char *why)
{
	struct puller *p = ctx;

	p->cb.state(p->ctx, p->addr, false, http_status, why);
}

static int pl_message(void *ctx, const void *data, size_t len, int binary)
{
	struct puller *p = ctx;
	const struct report_msg *msg;
	const char *why;

	if (report_read_msg(&p->rd, data, len, binary, &msg, &why))
		p->cb.garbage(p->ctx, p->addr, why);
	else
		p->cb.report(p->ctx, p->addr, msg);
	return 0;
}

struct puller *puller_new(struct ws_client *wc, const struct puller_config *cfg,
			  const struct puller_callbacks *cb, void *ctx)
{
	static const struct ws_link_callbacks lcb = {
		.path = pl_path, .opened = pl_opened, .message = pl_message, .closed = pl_closed,
	};
	struct ws_link_config lc = {
		.host = cfg->host,
		.port = cfg->port,
		.token = cfg->token,
		.max_message = cfg->max_message,
		.idle_ms = cfg->idle_ms,
	};
	struct puller *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cb = *cb;
	p->ctx = ctx;
	p->term = cfg->term;
	p->addr = strdup(cfg->addr);
	if (!p->addr || report_read_init(&p->rd, cfg->acfg, cfg->max_message)) {
		puller_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->link = ws_link_new(wc, &lc, &lcb, p);
	if (!p->link) {
		int e = errno;

		puller_free(p);
		errno = e;
		return NULL;
	}
	return p;
}

void puller_free(struct puller *p)
{
	if (!p)
		return;
	ws_link_free(p->link);
	report_read_free(&p->rd);
	free(p->addr);
	free(p);
}

const char *puller_addr(const struct puller *p)
{
	return p->addr;
}

void puller_link_stats(struct puller *p, struct ws_link_stats *out)
{
	ws_link_get_stats(p->link, out);
}
