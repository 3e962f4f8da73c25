// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A period's report as a short table for a person at a terminal (-o table, or a tty). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "roles/table_out.h"
#include "top/top_model.h"
#include "top/top_ui.h"

/* Display columns of UTF-8 text: every byte that does not continue a character. */
static size_t columns(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* s right-aligned in w columns, then a space ("µ" is two bytes for one column). */
static int cell(struct buf *out, const char *s, size_t w)
{
	size_t c = columns(s, strlen(s));

	return buf_printf(out, "%*s%s ", (int)(c < w ? w - c : 0), "", s);
}

/* Load: statements in flight on average; below 1 two decimals say more than "0". */
static void fmt_load(double n, char *out, size_t len)
{
	if (n < 10)
		snprintf(out, len, "%.2f", n);
	else
		top_fmt_num(n, out, len);
}

/*
 * The template text on one line in at most w columns: control bytes (a newline kept in a
 * template) become spaces, and a cut text ends in "..." on a character boundary.
 */
static int text_cell(struct buf *out, const char *prefix, const char *t, size_t w)
{
	size_t n = strlen(t), used = strlen(prefix), i, end = 0, cols = used;
	int err = buf_puts(out, prefix);

	if (err || used + 3 > w)
		return err;
	if (used + columns(t, n) <= w) {
		end = n;
	} else {
		/* Keep whole characters that leave room for the "...". */
		for (i = 0; i < n; i++) {
			if (((unsigned char)t[i] & 0xc0) != 0x80) {
				if (cols + 1 + 3 > w)
					break;
				cols++;
			}
			end = i + 1;
		}
	}
	for (i = 0; i < end && !err; i++)
		err = buf_append(out, (unsigned char)t[i] < 0x20 || t[i] == 0x7f ? " " : &t[i], 1);
	if (!err && end < n)
		err = buf_puts(out, "...");
	return err;
}

static const char *cmd_prefix(const struct agg_stat *s)
{
	if (s->key.command == AGG_CMD_EXECUTE)
		return "execute: ";
	if (s->key.command == AGG_CMD_PREPARE)
		return "prepare: ";
	return "";
}

static int write_row(struct buf *out, const struct top_row *r, size_t width)
{
	char load[16], cnt[16], rate[16], mean[16], p99[16], errs[16];
	size_t start = out->len;
	int err;

	fmt_load(r->load, load, sizeof(load));
	top_fmt_num((double)r->s->count, cnt, sizeof(cnt));
	top_fmt_num(r->rate, rate, sizeof(rate));
	top_fmt_us(r->mean_us, mean, sizeof(mean));
	top_fmt_us((double)r->p99_us, p99, sizeof(p99));
	top_fmt_num((double)r->s->errors, errs, sizeof(errs));
	err = cell(out, load, 6) ?: cell(out, cnt, 7) ?: cell(out, rate, 7) ?:
	      cell(out, mean, 9) ?: cell(out, p99, 9) ?: cell(out, errs, 6);
	if (!err) {
		size_t used = columns(out->data + start, out->len - start);

		err = text_cell(out, cmd_prefix(r->s), r->text ? r->text : "(no text)",
				width > used ? width - used : 0);
	}
	return err ?: buf_puts(out, "\n");
}

static int write_title(struct buf *out, const struct report_header *h, const struct agg *a,
		       size_t templates)
{
	double secs = (double)(h->period_end_ms - h->period_start_ms) / 1000;
	uint64_t n = agg_statements(a);
	time_t t0 = (time_t)(h->period_start_ms / 1000), t1 = (time_t)(h->period_end_ms / 1000);
	char from[16] = "?", to[16] = "?", rate[16];
	struct tm tm;

	if (localtime_r(&t0, &tm))
		strftime(from, sizeof(from), "%H:%M:%S", &tm);
	if (localtime_r(&t1, &tm))
		strftime(to, sizeof(to), "%H:%M:%S", &tm);
	top_fmt_num(secs > 0 ? (double)n / secs : 0, rate, sizeof(rate));
	return buf_printf(out, "%s-%s  %llu statements, %s/s, %zu template%s\n", from, to,
			  (unsigned long long)n, rate, templates, templates == 1 ? "" : "s");
}

/* Appends ", item" to the line that starts at out->data + *line, or a new one past width. */
static int health_item(struct buf *out, size_t *line, size_t width, const char *item)
{
	size_t now = columns(out->data + *line, out->len - *line);

	if (now + 2 + strlen(item) <= width)
		return buf_printf(out, ", %s", item);
	*line = out->len + 2;
	return buf_printf(out, ",\n         %s", item);
}

/* Whatever makes the numbers incomplete is named; the rest of the line is always there. */
static int write_health(struct buf *out, const struct report_capture *c, size_t width)
{
	const struct { uint64_t n; const char *what; } items[] = {
		{ c->dropped, "dropped" },
		{ c->gaps, "gaps" },
		{ c->decode_errors, "decode errors" },
		{ c->stalled_ms, "ms stalled" },
		{ c->tls_conns, "TLS connections (not decoded)" },
		{ c->devices_detached, "devices gone" },
		{ c->keys_overflow, "statements beyond max_keys" },
	};
	size_t line = out->len;
	char item[64];
	int err = buf_printf(out, "capture: %llu packets", (unsigned long long)c->packets);

	/* The first four always: a person sees they are zero. */
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]) && !err; i++) {
		if (i >= 4 && !items[i].n)
			continue;
		snprintf(item, sizeof(item), "%llu %s", (unsigned long long)items[i].n,
			 items[i].what);
		err = health_item(out, &line, width, item);
	}
	return err ?: buf_puts(out, "\n\n");
}

static int write_table(struct buf *out, struct top_model *m, const struct report_capture *c,
		       size_t width)
{
	size_t n = top_model_rows(m), i;
	int err = 0;

	if (n)
		err = buf_printf(out, "%6s %7s %7s %9s %9s %6s %s\n", "LOAD", "COUNT", "/S",
				 "MEAN", "P99", "ERRORS", "TEMPLATE");
	for (i = 0; i < n && i < TABLE_OUT_ROWS && !err; i++)
		err = write_row(out, top_model_row(m, i), width);
	if (!err && n > TABLE_OUT_ROWS)
		err = buf_printf(out, "(%zu more templates)\n", n - TABLE_OUT_ROWS);
	return err ?: write_health(out, c, width);
}

int table_out_write(struct buf *out, const struct report_header *h,
		    const struct report_capture *c, const struct agg *a, unsigned width)
{
	struct top_model *m = top_model_new();
	int err;

	if (!m)
		return -ENOMEM;
	if (width < TABLE_OUT_MIN_WIDTH)
		width = TABLE_OUT_MIN_WIDTH;
	/* top's model groups a template's rows (db, user, client) and ranks them by load. */
	err = top_model_add(m, h, c, a) ?: top_model_view(m, TOP_SORT_LOAD, NULL);
	if (!err)
		err = write_title(out, h, a, top_model_rows(m)) ?: write_table(out, m, c, width);
	top_model_free(m);
	return err;
}
