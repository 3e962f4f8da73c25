// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The sinks a role's settings ask for (sinks.clickhouse.*, sinks.kafka.*), as report bus outputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "roles/role_report.h"
#include "roles/sink_outs.h"
#include "sinks/ch_sink.h"

/* Reports a sink may lag before the oldest are lost for it: it keeps reading while it backs
 * off, so only a thread that cannot keep up at all ever gets there. */
#define SINK_QUEUE 64

struct sink_outs {
#ifndef MP_NO_CLICKHOUSE
	struct ch_sink *ch;
#endif
	int unused;
};

static const struct agg *report_view(const void *obj, const struct report_header **h)
{
	const struct slave_report *r = obj;

	*h = &r->h;
	return r->a;
}

static int clickhouse_new(struct sink_outs *o, const struct mp_config *c, struct bus *b)
{
#ifndef MP_NO_CLICKHOUSE
	struct ch_sink_config cc = {
		.url = c->sinks_clickhouse_url,
		.database = c->sinks_clickhouse_database,
		.user = c->sinks_clickhouse_user,
		.password = c->sinks_clickhouse_password,
		.spool_dir = c->sinks_clickhouse_spool_dir,
		.spool_bytes = (uint64_t)c->sinks_clickhouse_spool_mb << 20,
		.batch_rows = (unsigned)c->sinks_clickhouse_batch_rows,
		.flush_ms = (unsigned)c->sinks_clickhouse_flush_ms,
		.queue = SINK_QUEUE,
		.view = report_view,
	};

	if (!*c->sinks_clickhouse_url)
		return 0;
	o->ch = ch_sink_new(b, &cc);
	if (!o->ch) {
		pr_warn("clickhouse: cannot start the sink: %s\n",
			errno == EINVAL ? "bad sinks.clickhouse.url or database" : strerror(errno));
		return -errno;
	}
	return 0;
#else
	if (!*c->sinks_clickhouse_url)
		return 0;
	pr_warn("clickhouse: sinks.clickhouse.url is set but this build has no ClickHouse sink "
		"(built with NO_CLICKHOUSE=1)\n");
	return -ENOTSUP;
#endif
}

struct sink_outs *sink_outs_new(const struct mp_config *c, struct bus *b)
{
	struct sink_outs *o = calloc(1, sizeof(*o));
	int err;

	if (!o)
		return NULL;
	err = clickhouse_new(o, c, b);
	if (!err)
		return o;
	sink_outs_free(o);
	errno = -err;
	return NULL;
}

int sink_outs_flush(struct sink_outs *o, unsigned timeout_ms)
{
	int err = 0;

	if (!o)
		return 0;
#ifndef MP_NO_CLICKHOUSE
	if (o->ch && ch_sink_flush(o->ch, timeout_ms)) {
		pr_warn("clickhouse: did not take the last reports within %u ms\n", timeout_ms);
		err = -ETIMEDOUT;
	}
#endif
	return err;
}

void sink_outs_free(struct sink_outs *o)
{
	uint64_t lost;

	if (!o)
		return;
#ifndef MP_NO_CLICKHOUSE
	lost = ch_sink_free(o->ch);
	if (lost)
		pr_warn("clickhouse: %llu rows not delivered\n", (unsigned long long)lost);
#endif
	(void)lost;
	free(o);
}

int sink_outs_metrics(struct sink_outs *o, struct buf *out)
{
	int err = 0;

	if (!o)
		return 0;
#ifndef MP_NO_CLICKHOUSE
	if (o->ch)
		err = ch_sink_metrics(o->ch, out);
#endif
	return err;
}

void sink_outs_event(struct sink_outs *o, const struct query_event *ev)
{
}
