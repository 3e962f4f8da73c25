// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Formats a query event as one JSON line (fields in README.md, "Query events"). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mysql/event_json.h"

/* Appends a string literal; its length comes from the compiler. */
#define buf_lit(b, s) buf_append(b, s, sizeof(s) - 1)

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int json_append_str(struct buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0, run = 0;

	if (!s)
		return buf_lit(b, "null");
	/* Worst case 6 output bytes per input byte, reserved once. */
	if (n > ((size_t)-1 - 2) / 6 || buf_reserve(b, n * 6 + 2))
		return -ENOMEM;
	b->data[b->len++] = '"';
	while (i < n) {
		uint8_t c = s[i];
		char *o = b->data + b->len;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			run = i;
			while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
				i++;
			memcpy(o, s + run, i - run);
			b->len += i - run;
			continue;
		}
		if (c >= 0x80) {
			size_t l = utf8_seq_len(s + i, n - i);

			if (l) {
				memcpy(o, s + i, l);
				b->len += l;
				i += l;
			} else {
				memcpy(o, "\\ufffd", 6);
				b->len += 6;
				i++;
			}
			continue;
		}
		o[0] = '\\';
		switch (c) {
		case '"': o[1] = '"'; b->len += 2; break;
		case '\\': o[1] = '\\'; b->len += 2; break;
		case '\n': o[1] = 'n'; b->len += 2; break;
		case '\r': o[1] = 'r'; b->len += 2; break;
		case '\t': o[1] = 't'; b->len += 2; break;
		default:
			memcpy(o + 1, "u00", 3);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			b->len += 6;
		}
		i++;
	}
	b->data[b->len++] = '"';
	return 0;
}

static int append_addr(struct buf *b, const struct qe_addr *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == 4) {
		if (!inet_ntop(AF_INET, a->addr, ip, sizeof(ip)))
			return buf_lit(b, "null");
		return buf_printf(b, "\"%s:%u\"", ip, a->port);
	}
	if (a->family == 6) {
		if (!inet_ntop(AF_INET6, a->addr, ip, sizeof(ip)))
			return buf_lit(b, "null");
		return buf_printf(b, "\"[%s]:%u\"", ip, a->port);
	}
	return buf_lit(b, "null");
}

static const char *const flag_names[] = {
	"no_index_used", "no_good_index_used", "truncated", "tls", "compressed",
	"cursor", "no_response", "multi", "template_truncated", "response_lost",
};

/* Appends a key (with its leading comma and colon) and a decimal: vsnprintf
 * per number dominated the cost of a line. */
static int append_u64(struct buf *b, const char *key, size_t klen, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	if (buf_reserve(b, klen + sizeof(tmp)))
		return -ENOMEM;
	memcpy(b->data + b->len, key, klen);
	b->len += klen;
	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		b->data[b->len++] = tmp[--n];
	return 0;
}

#define append_kv(b, key, v) append_u64(b, key, sizeof(key) - 1, v)

static int append_hex64(struct buf *b, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";

	if (buf_reserve(b, 18))
		return -ENOMEM;
	b->data[b->len++] = '"';
	for (int i = 60; i >= 0; i -= 4)
		b->data[b->len++] = hex[(v >> i) & 15];
	b->data[b->len++] = '"';
	return 0;
}

static int append_flags(struct buf *b, uint32_t flags)
{
	int first = 1, err = buf_lit(b, "[");

	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & (1u << i)))
			continue;
		err = err ?: (first ? 0 : buf_lit(b, ","));
		err = err ?: json_append_str(b, flag_names[i], strlen(flag_names[i]));
		first = 0;
	}
	return err ?: buf_lit(b, "]");
}

int event_json_append(struct buf *b, const struct query_event *ev)
{
	static const char *const status_json[] = {
		[QE_STATUS_OK] = ",\"status\":\"ok\"",
		[QE_STATUS_ERROR] = ",\"status\":\"error\"",
		[QE_STATUS_UNANSWERED] = ",\"status\":\"unanswered\"",
		[QE_STATUS_RUNNING] = ",\"status\":\"running\"",
	};
	/* No byte of a response: there is no first byte to time. */
	int no_first = (ev->flags & QE_F_NO_RESPONSE) ||
		       (ev->status >= QE_STATUS_UNANSWERED && !ev->bytes_out);
	int err;

	err = append_kv(b, "{\"ts_us\":", ev->ts_us);
	err = err ?: append_kv(b, ",\"latency_us\":", ev->latency_us);
	if (no_first)
		err = err ?: buf_lit(b, ",\"first_byte_us\":null");
	else
		err = err ?: append_kv(b, ",\"first_byte_us\":", ev->first_byte_us);
	err = err ?: buf_lit(b, ",\"client\":");
	err = err ?: append_addr(b, &ev->client);
	err = err ?: buf_lit(b, ",\"server\":");
	err = err ?: append_addr(b, &ev->server);
	if (ev->conn_id_known)
		err = err ?: append_kv(b, ",\"conn_id\":", ev->conn_id);
	else
		err = err ?: buf_lit(b, ",\"conn_id\":null");
	err = err ?: buf_lit(b, ",\"user\":");
	err = err ?: json_append_str(b, ev->user, ev->user_len);
	err = err ?: buf_lit(b, ",\"db\":");
	err = err ?: json_append_str(b, ev->db, ev->db_len);
	err = err ?: buf_lit(b, ",\"command\":");
	err = err ?: json_append_str(b, ev->command, ev->command ? strlen(ev->command) : 0);
	err = err ?: buf_lit(b, ",\"sql\":");
	err = err ?: json_append_str(b, ev->sql, ev->sql_len);
	err = err ?: buf_lit(b, ",\"template\":");
	err = err ?: json_append_str(b, ev->has_template ? ev->template : NULL, ev->template_len);
	err = err ?: buf_lit(b, ",\"template_id\":");
	if (ev->has_template)
		err = err ?: append_hex64(b, ev->template_id);
	else
		err = err ?: buf_lit(b, "null");
	if (ev->status >= 0 && ev->status <= QE_STATUS_RUNNING)
		err = err ?: buf_append(b, status_json[ev->status], strlen(status_json[ev->status]));
	else
		err = err ?: buf_lit(b, ",\"status\":\"error\"");
	err = err ?: append_kv(b, ",\"error_code\":", ev->error_code);
	err = err ?: buf_lit(b, ",\"sqlstate\":");
	err = err ?: json_append_str(b, ev->sqlstate[0] ? ev->sqlstate : NULL,
				     strnlen(ev->sqlstate, sizeof(ev->sqlstate)));
	err = err ?: buf_lit(b, ",\"error_message\":");
	err = err ?: json_append_str(b, ev->error_msg, ev->error_msg_len);
	err = err ?: append_kv(b, ",\"rows_sent\":", ev->rows_sent);
	err = err ?: append_kv(b, ",\"rows_affected\":", ev->rows_affected);
	err = err ?: append_kv(b, ",\"bytes_in\":", ev->bytes_in);
	err = err ?: append_kv(b, ",\"bytes_out\":", ev->bytes_out);
	err = err ?: buf_lit(b, ",\"flags\":");
	err = err ?: append_flags(b, ev->flags);
	return err ?: buf_lit(b, "}\n");
}
