// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The stdout output: a bus reader in its own thread, one JSON line (or a table) per report. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "roles/slave_int.h"
#include "roles/stdout_out.h"
#include "roles/table_out.h"

struct stdout_out {
	struct bus *bus;
	struct bus_reader *reader;
	FILE *f;
	pthread_t thread;
	atomic_bool writing; /* holds a report: flush must wait for it */
	bool flushed; /* the last flush succeeded: the thread is not stuck */
	bool table; /* a table for a person instead of JSON */
	struct jbuf line;
};

/* The terminal's width now (it may have been resized); 100 when f is not a terminal. */
static unsigned term_width(FILE *f)
{
	struct winsize ws;

	if (ioctl(fileno(f), TIOCGWINSZ, &ws) || !ws.ws_col)
		return 100;
	return ws.ws_col;
}

/* Every template text of the period: stdout has no per-client memory of texts. */
static void write_one(struct stdout_out *o, const struct slave_report *r)
{
	int err;

	jbuf_reset(&o->line);
	if (o->table)
		err = table_out_write(&o->line.out, &r->h, &r->c, r->a, term_width(o->f));
	else
		err = report_write(&o->line, &r->h, &r->c, r->a, NULL);
	if (err) {
		pr_warn("report: cannot write the period's report: %s\n", strerror(-err));
		return;
	}
	if (!o->table)
		jbuf_raw(&o->line, "\n", 1);
	fwrite(o->line.out.data, 1, o->line.out.len, o->f);
	fflush(o->f);
}

static void *stdout_thread(void *arg)
{
	struct stdout_out *o = arg;
	struct bus_item *it;
	uint64_t lost;
	int err;

	for (;;) {
		err = bus_read_wait(o->reader, &it, &lost, 1000);
		if (err == -ETIMEDOUT)
			continue;
		if (err)
			break;
		atomic_store(&o->writing, true);
		write_one(o, bus_item_obj(it));
		bus_item_put(o->bus, it);
		atomic_store(&o->writing, false);
	}
	return NULL;
}

struct stdout_out *stdout_out_new(struct bus *b, FILE *f, bool lossless, bool table)
{
	struct bus_reader_config rc = {
		.kind = "stdout",
		.queue = STDOUT_OUT_QUEUE,
		.lossless = lossless,
		.start = BUS_START_LIVE,
	};
	struct stdout_out *o = calloc(1, sizeof(*o));
	int err;

	if (!o)
		return NULL;
	o->bus = b;
	o->f = f;
	o->flushed = true;
	o->table = table;
	jbuf_init(&o->line);
	o->reader = bus_reader_new(b, &rc);
	if (!o->reader) {
		err = errno;
		goto fail;
	}
	err = pthread_create(&o->thread, NULL, stdout_thread, o);
	if (!err)
		return o;
	bus_reader_free(o->reader);
fail:
	jbuf_free(&o->line);
	free(o);
	errno = err;
	return NULL;
}

int stdout_out_flush(struct stdout_out *o, unsigned timeout_ms)
{
	unsigned waited = 0;

	for (;;) {
		if (!bus_reader_lag(o->reader) && !atomic_load(&o->writing))
			return 0;
		if (waited >= timeout_ms) {
			o->flushed = false;
			return -ETIMEDOUT;
		}
		usleep(2000);
		waited += 2;
	}
}

int stdout_out_free(struct stdout_out *o)
{
	if (!o)
		return 0;
	if (!o->flushed && stdout_out_flush(o, 0)) {
		pthread_detach(o->thread);
		return -EBUSY;
	}
	pthread_join(o->thread, NULL);
	bus_reader_free(o->reader);
	jbuf_free(&o->line);
	free(o);
	return 0;
}
