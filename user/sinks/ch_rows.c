// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A report as ClickHouse rows: JSONEachRow lines for the metrics and slow tables, and their DDL. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "sinks/ch_rows.h"

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

static void key_addr(struct jbuf *b, const char *k, uint8_t family, const uint8_t *addr)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (family == AF_INET || family == AF_INET6)
		inet_ntop(family, addr, ip, sizeof(ip));
	key_strn(b, k, ip, strlen(ip));
}

/* The columns every row starts with: the report's identity and the row's place in it. */
static void row_open(struct jbuf *b, const struct report_header *h, size_t row_no)
{
	uint64_t len_ms = h->period_end_ms - h->period_start_ms;

	jbuf_obj_open(b);
	/* DateTime takes a Unix time: no time zone between the agent and the server. */
	key_u64(b, "period_start", h->period_start_ms / 1000);
	key_u64(b, "period_start_ms", h->period_start_ms);
	key_u64(b, "period_length", (len_ms + 500) / 1000);
	key_u64(b, "period_length_ms", len_ms);
	key_u64(b, "term", h->term);
	jbuf_key(b, "agent");
	jbuf_str(b, h->node);
	key_u64(b, "started_ms", h->started_ms);
	key_u64(b, "seq", h->seq);
	key_u64(b, "row_no", row_no);
	key_u64(b, "late", h->late ? 1 : 0);
}

/* JSONEachRow: one object per line, no separator between them. */
static void row_close(struct jbuf *b)
{
	jbuf_obj_close(b);
	jbuf_raw(b, "\n", 1);
	b->comma = false;
}

static void write_queryid(struct jbuf *b, const struct agg_stat *s)
{
	jbuf_key(b, "queryid");
	if (s->is_other)
		jbuf_str(b, "other");
	else
		jbuf_hex64(b, s->key.template_id);
}

static void write_errors(struct jbuf *b, const struct agg_stat *s)
{
	jbuf_key(b, "errors.code");
	jbuf_arr_open(b);
	for (unsigned i = 0; i < s->err_n; i++)
		jbuf_u64(b, s->err_code[i]);
	jbuf_arr_close(b);
	jbuf_key(b, "errors.count");
	jbuf_arr_open(b);
	for (unsigned i = 0; i < s->err_n; i++)
		jbuf_u64(b, s->err_count[i]);
	jbuf_arr_close(b);
	key_u64(b, "errors_other", s->err_other);
}

/* The histogram as two parallel arrays (bucket upper bound µs, count): sumMap() adds them. */
static void write_hist(struct jbuf *b, const struct hist *h)
{
	jbuf_key(b, "m_query_time_histMap.b");
	jbuf_arr_open(b);
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		if (h->grp[i / HIST_SUB] && hist_bucket_count(h, i))
			jbuf_u64(b, hist_bucket_upper(i));
	jbuf_arr_close(b);
	jbuf_key(b, "m_query_time_histMap.c");
	jbuf_arr_open(b);
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		if (h->grp[i / HIST_SUB] && hist_bucket_count(h, i))
			jbuf_u64(b, hist_bucket_count(h, i));
	jbuf_arr_close(b);
}

static void write_stat(struct jbuf *b, const struct report_header *h, const struct agg *a,
		       const struct agg_stat *s, size_t row_no)
{
	const char *text = NULL;
	size_t len = 0;

	if (!s->is_other)
		text = agg_template(a, s->key.template_id, &len);
	row_open(b, h, row_no);
	write_queryid(b, s);
	key_strn(b, "fingerprint", text, text ? len : 0);
	jbuf_key(b, "command");
	jbuf_str(b, agg_cmd_name(s->key.command));
	key_strn(b, "schema", agg_key_db(&s->key), s->key.db_len);
	key_strn(b, "username", agg_key_user(&s->key), s->key.user_len);
	key_addr(b, "client_host", s->key.family, s->key.addr);
	/* report.keys' optional dimensions; "" in a report not keyed by them. */
	key_strn(b, "app", agg_key_app(&s->key), s->key.app_len);
	key_strn(b, "server", agg_key_server(&s->key), s->key.server_len);
	key_u64(b, "num_queries", s->count);
	key_u64(b, "num_queries_with_errors", s->errors);
	write_errors(b, s);
	key_u64(b, "m_query_time_sum", s->lat.sum);
	key_u64(b, "m_query_time_min", s->lat.min);
	key_u64(b, "m_query_time_max", s->lat.max);
	key_u64(b, "m_query_time_p99", hist_percentile(&s->lat, 0.99));
	write_hist(b, &s->lat);
	key_u64(b, "m_rows_sent_sum", s->rows_sent);
	key_u64(b, "m_rows_affected_sum", s->rows_affected);
	key_u64(b, "m_bytes_sent_sum", s->bytes_out);
	key_u64(b, "m_bytes_received_sum", s->bytes_in);
	key_u64(b, "m_no_index_used_sum", s->no_index_used);
	row_close(b);
}

size_t ch_rows_metrics(struct jbuf *b, const struct report_header *h, const struct agg *a)
{
	size_t i, n = 0;

	for (i = 0; i < agg_stat_count(a); i++)
		write_stat(b, h, a, agg_stat_at(a, i), n++);
	for (i = 0; i < AGG_CMD_COUNT; i++)
		if (agg_other(a, i))
			write_stat(b, h, a, agg_other(a, i), n++);
	return n;
}

static void write_slow(struct jbuf *b, const struct report_header *h, const struct agg_slow *s,
		       size_t row_no)
{
	row_open(b, h, row_no);
	key_u64(b, "ts", s->ts_us / 1000000);
	key_u64(b, "ts_us", s->ts_us);
	key_u64(b, "query_time_us", s->latency_us);
	jbuf_key(b, "queryid");
	jbuf_hex64(b, s->template_id);
	key_strn(b, "schema", s->db, s->db_len);
	key_strn(b, "username", s->user, s->user_len);
	key_addr(b, "client_host", s->family, s->addr);
	key_u64(b, "client_port", s->port);
	key_u64(b, "is_error", s->status == AGG_STATUS_ERROR);
	key_u64(b, "error_code", s->error_code);
	key_strn(b, "example", s->sql, s->sql_len);
	key_u64(b, "example_truncated", s->sql_truncated);
	row_close(b);
}

/* In the aggregator's order: a report is immutable, so a retry numbers the rows alike. */
size_t ch_rows_slow(struct jbuf *b, const struct report_header *h, const struct agg *a)
{
	size_t i, n = agg_slow_count(a);

	for (i = 0; i < n; i++)
		write_slow(b, h, agg_slow_at(a, i), i);
	return n;
}

const char *ch_table_name(enum ch_table t)
{
	return t == CH_TABLE_SLOW ? "slow" : "metrics";
}

int ch_ddl_database(struct buf *out, const char *db)
{
	return buf_printf(out, "CREATE DATABASE IF NOT EXISTS `%s`", db);
}

/* The identity columns of both tables, and their engine: see ch_rows.h. */
#define CH_IDENTITY                                                                       \
	"period_start DateTime, period_start_ms UInt64, period_length UInt32, "           \
	"period_length_ms UInt32, term UInt64, agent String, started_ms UInt64, seq UInt64, " \
	"row_no UInt32, late UInt8, "
#define CH_ENGINE                                                                          \
	") ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(period_start) "             \
	"ORDER BY (agent, started_ms, seq, row_no)"

int ch_ddl_table(struct buf *out, const char *db, enum ch_table t)
{
	if (t == CH_TABLE_SLOW)
		return buf_printf(out,
				  "CREATE TABLE IF NOT EXISTS `%s`.slow (" CH_IDENTITY
				  "ts DateTime, ts_us UInt64, query_time_us UInt64, queryid String, "
				  "schema String, username String, client_host String, "
				  "client_port UInt16, is_error UInt8, error_code UInt16, "
				  "example String, example_truncated UInt8" CH_ENGINE,
				  db);
	return buf_printf(out,
			  "CREATE TABLE IF NOT EXISTS `%s`.metrics (" CH_IDENTITY
			  "queryid String, fingerprint String, command String, schema String, "
			  "username String, client_host String, app String, server String, "
			  "num_queries UInt64, "
			  "num_queries_with_errors UInt64, errors Nested(code UInt16, count UInt64), "
			  "errors_other UInt64, m_query_time_sum UInt64, m_query_time_min UInt64, "
			  "m_query_time_max UInt64, m_query_time_p99 UInt64, "
			  "m_query_time_histMap Nested(b UInt64, c UInt64), m_rows_sent_sum UInt64, "
			  "m_rows_affected_sum UInt64, m_bytes_sent_sum UInt64, "
			  "m_bytes_received_sum UInt64, m_no_index_used_sum UInt64" CH_ENGINE,
			  db);
}
