// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `mysqlprobe top`'s screen (ncurses): the overview, one template's detail, the status lines. */
#include <arpa/inet.h>
#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "top/top_ui.h"

/* Lines above the table: title, health, sort and filter, link state, column names. */
#define TOP_HEAD_LINES 5
#define TOP_SLOW_SHOWN 10

void top_fmt_us(double us, char *out, size_t len)
{
	if (us < 1000)
		snprintf(out, len, "%.0f µs", us);
	else if (us < 1e6)
		snprintf(out, len, us < 1e4 ? "%.2f ms" : "%.1f ms", us / 1e3);
	else
		snprintf(out, len, us < 1e7 ? "%.2f s" : "%.1f s", us / 1e6);
}

void top_fmt_num(double n, char *out, size_t len)
{
	double a = fabs(n);

	if (a >= 1e9)
		snprintf(out, len, "%.1fG", n / 1e9);
	else if (a >= 1e6)
		snprintf(out, len, a >= 1e7 ? "%.1fM" : "%.2fM", n / 1e6);
	else if (a >= 1e4)
		snprintf(out, len, a >= 1e5 ? "%.0fk" : "%.1fk", n / 1e3);
	else if (n == floor(n))
		snprintf(out, len, "%.0f", n);
	else
		snprintf(out, len, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", n);
}

static void fmt_load(double n, char *out, size_t len)
{
	if (n == 0)
		snprintf(out, len, "0");
	else if (n < 1)
		snprintf(out, len, "%.2g", n);
	else
		top_fmt_num(n, out, len);
}

static void fmt_clock(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%H:%M:%S", &tm);
}

static const char *sort_name(enum top_sort s)
{
	static const char *const names[] = { "load", "count", "p99", "errors" };

	return names[s];
}

/* One line, cut at the screen's width (curses would wrap it onto the next). */
static void line(int y, int attr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(int y, int attr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	move(y, 0);
	clrtoeol();
	attron(attr);
	mvaddnstr(y, 0, buf, COLS > 0 ? COLS : 80);
	attroff(attr);
}

static void draw_head(const struct top_model *m, struct top_ui *u)
{
	const struct report_header *h = top_model_last(m);
	char a[16], b[16], per[32];
	struct top_health hl;

	if (h) {
		fmt_clock(h->period_start_ms, a, sizeof(a));
		fmt_clock(h->period_end_ms, b, sizeof(b));
		top_fmt_us((double)(h->period_end_ms - h->period_start_ms) * 1000, per, sizeof(per));
		line(0, A_BOLD, "mysqlprobe top  %s  %s (%s)  period %s-%s (%s)  seq %llu", u->url,
		     h->node, h->role, a, b, per, (unsigned long long)h->seq);
	} else {
		line(0, A_BOLD, "mysqlprobe top  %s  waiting for the first report", u->url);
	}
	top_model_health(m, &hl);
	line(1, hl.complete < hl.periods || hl.lost ? A_BOLD : 0,
	     "health: %zu/%zu periods complete  drops %llu  gaps %llu  decode errors %llu  "
	     "TLS %llu  stalled %llu ms  lost reports %llu",
	     hl.complete, hl.periods, (unsigned long long)hl.c.dropped,
	     (unsigned long long)hl.c.gaps, (unsigned long long)hl.c.decode_errors,
	     (unsigned long long)hl.c.tls_conns, (unsigned long long)hl.c.stalled_ms,
	     (unsigned long long)hl.lost);
	line(2, 0, "sort: %s  filter: %s  window: %zu period(s), %.1f s", sort_name(u->sort),
	     u->filter[0] ? u->filter : "(none)", hl.periods, top_model_seconds(m));
	if (!u->link_up)
		line(3, A_BOLD | A_REVERSE, "link down: %s; retrying", u->link);
	else if (u->note[0])
		line(3, A_BOLD, "%s", u->note);
	else
		line(3, 0, "live");
}

static void draw_overview(const struct top_model *m, struct top_ui *u)
{
	size_t n = top_model_rows(m), i, first = 0;
	int rows = LINES - TOP_HEAD_LINES - 1;

	line(TOP_HEAD_LINES - 1, A_REVERSE, "%3s %7s %8s %9s %10s %10s %7s %8s %-7s %s", "#",
	     "LOAD", "COUNT", "RATE/S", "MEAN", "P99", "ERRORS", "ROWS", "CMD", "TEMPLATE");
	if (rows < 1)
		return;
	if (u->sel >= n)
		u->sel = n ? n - 1 : 0;
	if (u->sel >= (size_t)rows)
		first = u->sel - (size_t)rows + 1;
	for (i = 0; i < (size_t)rows; i++) {
		const struct top_row *r = top_model_row(m, first + i);
		char load[16], cnt[16], rate[16], mean[16], p99[16], err[16], nrows[16];
		int y = TOP_HEAD_LINES + (int)i;

		if (!r) {
			move(y, 0);
			clrtoeol();
			continue;
		}
		fmt_load(r->load, load, sizeof(load));
		top_fmt_num((double)r->s->count, cnt, sizeof(cnt));
		top_fmt_num(r->rate, rate, sizeof(rate));
		top_fmt_us(r->mean_us, mean, sizeof(mean));
		top_fmt_us((double)r->p99_us, p99, sizeof(p99));
		top_fmt_num((double)r->s->errors, err, sizeof(err));
		top_fmt_num((double)r->rows, nrows, sizeof(nrows));
		/* µ takes two bytes for one column: pad the unit columns by hand. */
		line(y, first + i == u->sel ? A_REVERSE : 0,
		     "%3zu %7s %8s %9s %*s %*s %7s %8s %-7s %s", first + i + 1, load, cnt, rate,
		     10 + (strstr(mean, "µ") ? 1 : 0), mean, 10 + (strstr(p99, "µ") ? 1 : 0), p99,
		     err, nrows, agg_cmd_name((enum agg_cmd)r->s->key.command) ?: "?",
		     r->text ? r->text : "(text not received)");
	}
	if (!n)
		line(TOP_HEAD_LINES, 0, "no statements in the window");
	if (n) {
		const struct top_row *r = top_model_row(m, u->sel);

		u->sel_id = r->s->key.template_id;
		u->sel_cmd = r->s->key.command;
	}
}

/* The histogram per power of two of latency, as bars of '#'. */
static int draw_hist(const struct hist *h, int y, int maxy)
{
	uint64_t bins[64] = { 0 }, max = 0;
	int lo = 64, hi = -1, b, width = COLS - 30 > 10 ? COLS - 30 : 10;
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++) {
		uint64_t c = hist_bucket_count(h, i), u = hist_bucket_upper(i);

		if (!c)
			continue;
		b = u ? 63 - __builtin_clzll(u) : 0;
		bins[b] += c;
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
	}
	for (b = lo; b <= hi; b++)
		max = bins[b] > max ? bins[b] : max;
	for (b = lo; b <= hi && y < maxy; b++, y++) {
		char from[16], bar[512];
		int n = max ? (int)((double)bins[b] * width / (double)max + 0.5) : 0;

		top_fmt_us((double)(1ull << b), from, sizeof(from));
		if (bins[b] && !n)
			n = 1;
		if (n > (int)sizeof(bar) - 1)
			n = (int)sizeof(bar) - 1;
		memset(bar, '#', (size_t)n);
		bar[n] = '\0';
		line(y, 0, "  >= %*s %8llu %s", 10 + (strstr(from, "µ") ? 1 : 0), from,
		     (unsigned long long)bins[b], bar);
	}
	return y;
}

static void draw_detail(const struct top_model *m, struct top_ui *u)
{
	const struct top_row *r = top_model_row(m, u->sel);
	const struct agg_slow *slow[TOP_SLOW_SHOWN * 10];
	char mean[16], p99[16], mx[16], mn[16];
	int y = TOP_HEAD_LINES - 1, maxy = LINES - 1;
	size_t i, ns;

	if (!r) {
		line(y, 0, "the selected template has no statements in the window");
		return;
	}
	top_fmt_us(r->mean_us, mean, sizeof(mean));
	top_fmt_us((double)r->p99_us, p99, sizeof(p99));
	top_fmt_us((double)r->s->lat.min, mn, sizeof(mn));
	top_fmt_us((double)r->s->lat.max, mx, sizeof(mx));
	line(y++, A_REVERSE, "template %016llx (%s)", (unsigned long long)r->s->key.template_id,
	     agg_cmd_name((enum agg_cmd)r->s->key.command) ?: "?");
	line(y++, 0, "%s", r->text ? r->text : "(text not received)");
	line(y++, 0, "count %llu  rate %.2f/s  mean %s  min %s  p99 %s  max %s  errors %llu  rows %llu",
	     (unsigned long long)r->s->count, r->rate, mean, mn, p99, mx,
	     (unsigned long long)r->s->errors, (unsigned long long)r->rows);
	line(y++, A_BOLD, "latency histogram");
	y = draw_hist(&r->s->lat, y, maxy - 4);
	line(y++, A_BOLD, "error codes");
	if (!r->s->err_n && !r->s->err_other)
		line(y++, 0, "  none");
	for (i = 0; i < r->s->err_n && y < maxy; i++)
		line(y++, 0, "  error %u: %llu", r->s->err_code[i],
		     (unsigned long long)r->s->err_count[i]);
	if (r->s->err_other && y < maxy)
		line(y++, 0, "  other codes: %llu", (unsigned long long)r->s->err_other);
	ns = top_model_slow(m, r->s->key.template_id, slow, sizeof(slow) / sizeof(slow[0]));
	if (y < maxy)
		line(y++, A_BOLD, "slow samples: %zu", ns);
	for (i = ns > TOP_SLOW_SHOWN ? ns - TOP_SLOW_SHOWN : 0; i < ns && y < maxy; i++) {
		char at[16], lat[16], client[INET6_ADDRSTRLEN] = "";

		fmt_clock(slow[i]->ts_us / 1000, at, sizeof(at));
		top_fmt_us((double)slow[i]->latency_us, lat, sizeof(lat));
		if (slow[i]->family == AF_INET || slow[i]->family == AF_INET6)
			inet_ntop(slow[i]->family, slow[i]->addr, client, sizeof(client));
		line(y++, 0, "  %s %10s %s:%u %s %.*s", at, lat, client, slow[i]->port,
		     slow[i]->status == AGG_STATUS_ERROR ? "error" : "ok", (int)slow[i]->sql_len,
		     slow[i]->sql ? slow[i]->sql : "");
	}
	for (; y < maxy; y++) {
		move(y, 0);
		clrtoeol();
	}
}

void top_ui_draw(const struct top_model *m, struct top_ui *u)
{
	draw_head(m, u);
	if (u->detail)
		draw_detail(m, u);
	else
		draw_overview(m, u);
	line(LINES - 1, A_REVERSE,
	     u->detail ? "Esc back  q quit"
		       : "q quit  l/c/p/e sort by load/count/p99/errors  / filter  "
			 "Up/Down select  Enter detail");
	refresh();
}
