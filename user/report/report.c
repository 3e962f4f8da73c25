// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A period's report as JSON (schema version 2, docs/REPORT.md), and reading one back. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "report/report.h"

static const struct {
	const char *name;
	size_t off;
} capture_fields[] = {
#define F(x) { #x, offsetof(struct report_capture, x) }
	F(packets), F(bytes),	     F(dropped),      F(gaps),		F(resyncs),
	F(tls_conns), F(decode_errors), F(unknown_stmt), F(keys_overflow), F(devices_detached),
	F(late), F(stalled_ms), F(unanswered),
#undef F
};
#define NCAPTURE (sizeof(capture_fields) / sizeof(capture_fields[0]))
_Static_assert(NCAPTURE == REPORT_CAPTURE_FIELDS, "report.h counts the capture fields");

static uint64_t *capture_field(struct report_capture *c, size_t i)
{
	return (uint64_t *)((char *)c + capture_fields[i].off);
}

const char *report_capture_name(size_t i)
{
	return i < NCAPTURE ? capture_fields[i].name : NULL;
}

uint64_t *report_capture_at(struct report_capture *c, size_t i)
{
	return i < NCAPTURE ? capture_field(c, i) : NULL;
}

static void key_u64(struct jbuf *b, const char *k, uint64_t v)
{
	jbuf_key(b, k);
	jbuf_u64(b, v);
}

static void key_strn(struct jbuf *b, const char *k, const char *s, size_t n)
{
	jbuf_key(b, k);
	jbuf_strn(b, s, n);
}

/* Formats an address ("" when unknown); with a port, IPv6 is bracketed: "[::1]:3306". */
static void addr_format(char *out, size_t len, uint8_t family, const uint8_t *addr, int port)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (family == AF_INET || family == AF_INET6)
		inet_ntop(family, addr, ip, sizeof(ip));
	if (port < 0)
		snprintf(out, len, "%s", ip);
	else if (family == AF_INET6)
		snprintf(out, len, "[%s]:%d", ip, port);
	else
		snprintf(out, len, "%s:%d", ip, port);
}

static void write_capture(struct jbuf *b, const struct report_capture *c)
{
	struct report_capture copy = *c;
	size_t i;

	jbuf_key(b, "capture");
	jbuf_obj_open(b);
	for (i = 0; i < NCAPTURE; i++)
		key_u64(b, capture_fields[i].name, *capture_field(&copy, i));
	jbuf_obj_close(b);
}

const char *report_node_status_name(enum report_node_status s)
{
	return s == REPORT_NODE_MISSING ? "missing" : s == REPORT_NODE_LATE ? "late" : "ok";
}

void report_capture_add(struct report_capture *dst, const struct report_capture *src)
{
	struct report_capture copy = *src;

	for (size_t i = 0; i < NCAPTURE; i++)
		*capture_field(dst, i) += *capture_field(&copy, i);
}

/* A master's "nodes": {"host:port": {"status", "seq", "reports", "capture"}, ...}. */
static void write_nodes(struct jbuf *b, const struct report_header *h)
{
	if (!h->nnodes)
		return;
	jbuf_key(b, "nodes");
	jbuf_obj_open(b);
	for (size_t i = 0; i < h->nnodes; i++) {
		const struct report_node *n = &h->nodes[i];

		jbuf_key(b, n->name);
		jbuf_obj_open(b);
		jbuf_key(b, "status");
		jbuf_str(b, report_node_status_name(n->status));
		key_u64(b, "seq", n->seq);
		key_u64(b, "reports", n->reports);
		write_capture(b, &n->c);
		jbuf_obj_close(b);
	}
	jbuf_obj_close(b);
}

static void write_outputs(struct jbuf *b, const struct report_header *h)
{
	size_t i;

	jbuf_key(b, "outputs");
	jbuf_obj_open(b);
	for (i = 0; i < h->noutputs && i < REPORT_MAX_OUTPUTS; i++) {
		jbuf_key(b, h->outputs[i].kind);
		jbuf_obj_open(b);
		key_u64(b, "readers", h->outputs[i].readers);
		key_u64(b, "dropped", h->outputs[i].dropped);
		jbuf_obj_close(b);
	}
	jbuf_obj_close(b);
}

/* t_start, t_end (may be NULL): where the object's members start and end in b->out. */
static void write_templates(struct jbuf *b, const struct agg *a, struct template_seen *seen,
			    size_t *t_start, size_t *t_end)
{
	const char *text;
	char id_hex[17];
	uint64_t id;
	size_t i, len;

	jbuf_key(b, "templates");
	jbuf_obj_open(b);
	if (t_start)
		*t_start = b->out.len;
	for (i = 0; i < agg_template_count(a); i++) {
		if (agg_template_at(a, i, &id, &text, &len))
			continue;
		if (seen && template_seen_add(seen, id) == 0)
			continue; /* already sent to this client (-ENOMEM: send again) */
		snprintf(id_hex, sizeof(id_hex), "%016llx", (unsigned long long)id);
		key_strn(b, id_hex, text, len);
	}
	if (t_end)
		*t_end = b->out.len;
	jbuf_obj_close(b);
}

/* Codes in ascending order, then "other" (the codes above them), as the row keeps them. */
/* "error_codes": a row's bounded code table (agg.h), codes ascending, then "other". */
static void write_codes(struct jbuf *b, const uint16_t *codes, const uint64_t *counts,
			unsigned int n, uint64_t other)
{
	char code[8];
	unsigned int i;

	jbuf_key(b, "error_codes");
	jbuf_obj_open(b);
	for (i = 0; i < n; i++) {
		snprintf(code, sizeof(code), "%u", codes[i]);
		key_u64(b, code, counts[i]);
	}
	if (other)
		key_u64(b, "other", other);
	jbuf_obj_close(b);
}

static void write_error_codes(struct jbuf *b, const struct agg_stat *s)
{
	write_codes(b, s->err_code, s->err_count, s->err_n, s->err_other);
}

static void write_stat(struct jbuf *b, const struct agg_stat *s, unsigned int keys)
{
	char client[INET6_ADDRSTRLEN + 8];

	jbuf_obj_open(b);
	jbuf_key(b, "template_id");
	if (s->is_other)
		jbuf_str(b, "other");
	else
		jbuf_hex64(b, s->key.template_id);
	jbuf_key(b, "command");
	jbuf_str(b, agg_cmd_name(s->key.command));
	key_strn(b, "db", agg_key_db(&s->key), s->key.db_len);
	key_strn(b, "user", agg_key_user(&s->key), s->key.user_len);
	addr_format(client, sizeof(client), s->key.family, s->key.addr, -1);
	key_strn(b, "client", client, strlen(client));
	/* The optional dimensions only in reports keyed by them: a default report is unchanged. */
	if (keys & AGG_DIM_APP)
		key_strn(b, "app", agg_key_app(&s->key), s->key.app_len);
	if (keys & AGG_DIM_SERVER)
		key_strn(b, "server", agg_key_server(&s->key), s->key.server_len);
	key_u64(b, "count", s->count);
	key_u64(b, "errors", s->errors);
	write_error_codes(b, s);
	jbuf_key(b, "latency_us");
	hist_write_json(&s->lat, b);
	key_u64(b, "rows_sent", s->rows_sent);
	key_u64(b, "rows_affected", s->rows_affected);
	key_u64(b, "bytes_in", s->bytes_in);
	key_u64(b, "bytes_out", s->bytes_out);
	key_u64(b, "no_index_used", s->no_index_used);
	jbuf_obj_close(b);
}

void report_write_stat(struct jbuf *b, const struct agg_stat *s, unsigned int keys)
{
	write_stat(b, s, keys);
}

/* "keys": the row key's dimensions, when not the default set. */
static void write_keys(struct jbuf *b, unsigned int keys)
{
	if (!keys || keys == AGG_KEYS_DEFAULT)
		return;
	jbuf_key(b, "keys");
	jbuf_arr_open(b);
	for (unsigned int i = 0; i < AGG_DIM_COUNT; i++)
		if (keys & (1u << i))
			jbuf_str(b, agg_dim_name(i));
	jbuf_arr_close(b);
}

/* What a slow sample and a running statement share: the statement and who ran it. */
static void write_sample_statement(struct jbuf *b, const struct agg_slow *s)
{
	char client[INET6_ADDRSTRLEN + 8];

	key_strn(b, "sql", s->sql, s->sql_len);
	jbuf_key(b, "sql_truncated");
	jbuf_bool(b, s->sql_truncated);
	key_strn(b, "db", s->db, s->db_len);
	key_strn(b, "user", s->user, s->user_len);
	addr_format(client, sizeof(client), s->family, s->addr, s->port);
	key_strn(b, "client", client, strlen(client));
}

static void write_slow_one(struct jbuf *b, const struct agg_slow *s)
{
	jbuf_obj_open(b);
	key_u64(b, "ts_us", s->ts_us);
	key_u64(b, "latency_us", s->latency_us);
	jbuf_key(b, "template_id");
	jbuf_hex64(b, s->template_id);
	write_sample_statement(b, s);
	jbuf_key(b, "status");
	jbuf_str(b, s->status == AGG_STATUS_ERROR ? "error" : "ok");
	key_u64(b, "error_code", s->error_code);
	jbuf_obj_close(b);
}

static int slow_by_time(const void *x, const void *y)
{
	const struct agg_slow *a = *(const struct agg_slow *const *)x;
	const struct agg_slow *b = *(const struct agg_slow *const *)y;

	if (a->ts_us != b->ts_us)
		return a->ts_us < b->ts_us ? -1 : 1;
	return a->latency_us < b->latency_us ? 1 : a->latency_us > b->latency_us ? -1 : 0;
}

static void write_running_one(struct jbuf *b, const struct agg_slow *s)
{
	jbuf_obj_open(b);
	key_u64(b, "ts_us", s->ts_us);
	key_u64(b, "elapsed_us", s->latency_us);
	jbuf_key(b, "template_id");
	jbuf_hex64(b, s->template_id);
	key_strn(b, "template", s->tmpl, s->tmpl_len);
	write_sample_statement(b, s);
	jbuf_obj_close(b);
}

static void write_sessions(struct jbuf *b, const struct agg *a)
{
	const struct sess_table *t = agg_sessions_const(a);
	char client[INET6_ADDRSTRLEN + 8];

	jbuf_key(b, "connections");
	jbuf_arr_open(b);
	for (size_t i = 0; i < sess_count(t); i++) {
		const struct sess_row *r = sess_at(t, i);

		jbuf_obj_open(b);
		key_strn(b, "user", r->user, r->user_len);
		addr_format(client, sizeof(client), r->family, r->addr, -1);
		key_strn(b, "client", client, strlen(client));
		if (r->is_other) {
			jbuf_key(b, "other");
			jbuf_bool(b, true);
		}
		key_u64(b, "opened", r->opened);
		key_u64(b, "logins", r->logins);
		key_u64(b, "failed", r->failed);
		write_codes(b, r->err_code, r->err_count, r->err_n, r->err_other);
		key_u64(b, "closed", r->closed);
		jbuf_obj_close(b);
	}
	jbuf_arr_close(b);
}

/* Samples (slow or running) in time order (the aggregator keeps them in heap order). */
static int write_samples(struct jbuf *b, const char *key, size_t n,
			 const struct agg_slow *(*at)(const struct agg *, size_t), const struct agg *a,
			 void (*one)(struct jbuf *, const struct agg_slow *))
{
	const struct agg_slow **v = NULL;
	size_t i;

	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			v[i] = at(a, i);
		qsort(v, n, sizeof(*v), slow_by_time);
	}
	jbuf_key(b, key);
	jbuf_arr_open(b);
	for (i = 0; i < n; i++)
		one(b, v[i]);
	jbuf_arr_close(b);
	free(v);
	return 0;
}

static int report_write_at(struct jbuf *b, const struct report_header *h,
			   const struct report_capture *c, const struct agg *a,
			   struct template_seen *seen, size_t *t_start, size_t *t_end)
{
	size_t i;
	int err;

	jbuf_obj_open(b);
	key_u64(b, "version", REPORT_VERSION);
	jbuf_key(b, "node");
	jbuf_str(b, h->node);
	jbuf_key(b, "role");
	jbuf_str(b, h->role);
	key_u64(b, "seq", h->seq);
	key_u64(b, "term", h->term);
	key_u64(b, "period_start_ms", h->period_start_ms);
	key_u64(b, "period_end_ms", h->period_end_ms);
	if (h->started_ms)
		key_u64(b, "started_ms", h->started_ms);
	if (h->late) {
		jbuf_key(b, "late");
		jbuf_bool(b, true);
	}
	write_capture(b, c);
	write_nodes(b, h);
	write_outputs(b, h);
	key_u64(b, "slow_dropped", agg_slow_dropped(a));
	write_keys(b, agg_keys(a));
	write_templates(b, a, seen, t_start, t_end);
	jbuf_key(b, "stats");
	jbuf_arr_open(b);
	for (i = 0; i < agg_stat_count(a); i++)
		write_stat(b, agg_stat_at(a, i), agg_keys(a));
	for (i = 0; i < AGG_CMD_COUNT; i++)
		if (agg_other(a, i))
			write_stat(b, agg_other(a, i), agg_keys(a));
	jbuf_arr_close(b);
	err = write_samples(b, "slow", agg_slow_count(a), agg_slow_at, a, write_slow_one);
	if (agg_running_dropped(a))
		key_u64(b, "running_dropped", agg_running_dropped(a));
	err = err ?: write_samples(b, "running", agg_running_count(a), agg_running_at, a,
				   write_running_one);
	write_sessions(b, a);
	jbuf_obj_close(b);
	if (!err)
		err = jbuf_error(b);
	if (err && seen)
		template_seen_clear(seen);
	return err;
}

int report_write(struct jbuf *b, const struct report_header *h, const struct report_capture *c,
		 const struct agg *a, struct template_seen *seen)
{
	return report_write_at(b, h, c, a, seen, NULL, NULL);
}

int report_write_split(struct jbuf *b, const struct report_header *h,
		       const struct report_capture *c, const struct agg *a, size_t *t_start,
		       size_t *t_end)
{
	return report_write_at(b, h, c, a, NULL, t_start, t_end);
}

int report_write_templates(struct jbuf *b, const struct agg *a, const struct template_seen *skip)
{
	const char *text;
	char id_hex[17];
	uint64_t id;
	size_t i, len;

	jbuf_obj_open(b);
	for (i = 0; i < agg_template_count(a); i++) {
		if (agg_template_at(a, i, &id, &text, &len) ||
		    (skip && template_seen_has(skip, id)))
			continue;
		snprintf(id_hex, sizeof(id_hex), "%016llx", (unsigned long long)id);
		key_strn(b, id_hex, text, len);
	}
	jbuf_obj_close(b);
	return jbuf_error(b);
}
