// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A report rendered once for every /collector client: the pieces each client's message is made of. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "report/report_wire.h"

/* Piece indices: members before the texts, every text, the new texts, members after. */
enum { W_BEFORE, W_ALL, W_NEW, W_AFTER, W_N };

struct report_wire {
	struct jbuf text; /* the whole report with every text; the shared JSON pieces point here */
	struct jbuf fresh; /* {the new texts} */
	const unsigned char *plain[W_N];
	size_t plain_len[W_N];
	/* Snappy elements of each piece: z[i] + z_skip[i] (past its own varint), z_len[i] bytes. */
	unsigned char *z[W_N];
	size_t z_skip[W_N], z_len[W_N], z_cap;
	uint64_t prev_seq;
	bool has_prev;
};

/* A varint's length; 0 if it does not end within n bytes. */
static size_t varint_len(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 5; i++)
		if (!(p[i] & 0x80))
			return i + 1;
	return 0;
}

static size_t varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Compresses one piece alone; keeps where its elements start. */
static int wire_zip(struct report_wire *w, int i)
{
	size_t cap = snappy_max_compressed_length(w->plain_len[i]), n = cap;

	w->z[i] = malloc(cap ? cap : 1);
	if (!w->z[i])
		return -ENOMEM;
	if (snappy_compress((const char *)w->plain[i], w->plain_len[i], (char *)w->z[i], &n) !=
	    SNAPPY_OK)
		return -EINVAL;
	w->z_skip[i] = varint_len(w->z[i], n);
	if (!w->z_skip[i])
		return -EINVAL;
	w->z_len[i] = n - w->z_skip[i];
	/* Kept for the report's life (the whole replay buffer): no slack. */
	if (n < cap) {
		unsigned char *p = realloc(w->z[i], n ? n : 1);

		if (p) {
			w->z[i] = p;
			cap = n;
		}
	}
	w->z_cap += cap;
	return 0;
}

/* Points the pieces into w->text ("{...}", texts at [t_start, t_end)) and w->fresh ("{...}"). */
static int wire_pieces(struct report_wire *w, size_t t_start, size_t t_end)
{
	const unsigned char *t;
	size_t len;
	int err = 0;

	if (w->text.out.len < 2 || w->text.out.data[0] != '{' || t_start < 1 || t_start > t_end ||
	    t_end > w->text.out.len || w->fresh.out.len < 2)
		return -EINVAL;
	/* Kept for the report's life: without the growth slack (up to half the buffer). */
	buf_fit(&w->text.out);
	buf_fit(&w->fresh.out);
	t = (const unsigned char *)w->text.out.data;
	len = w->text.out.len;
	/* Past the report's own "{": the head opens the object (with "lost" in it). */
	w->plain[W_BEFORE] = t + 1;
	w->plain_len[W_BEFORE] = t_start - 1;
	w->plain[W_ALL] = t + t_start;
	w->plain_len[W_ALL] = t_end - t_start;
	/* Between the braces of the new texts' object. */
	w->plain[W_NEW] = (const unsigned char *)w->fresh.out.data + 1;
	w->plain_len[W_NEW] = w->fresh.out.len - 2;
	w->plain[W_AFTER] = t + t_end;
	w->plain_len[W_AFTER] = len - t_end;
	for (int i = 0; !err && i < W_N; i++)
		err = wire_zip(w, i);
	return err;
}

static int wire_render(struct report_wire *w, const struct report_header *h,
		       const struct report_capture *c, const struct agg *a,
		       const struct template_seen *prev)
{
	size_t t_start = 0, t_end = 0;
	int err;

	err = report_write_split(&w->text, h, c, a, &t_start, &t_end);
	if (!err)
		err = report_write_templates(&w->fresh, a, prev);
	return err ?: wire_pieces(w, t_start, t_end);
}

/* The ids of this report's rows: what the next report's "new texts" are new against. */
static int wire_note_ids(const struct agg *a, struct template_seen *cur)
{
	const char *text;
	uint64_t id;
	size_t len;

	template_seen_clear(cur);
	for (size_t i = 0; i < agg_template_count(a); i++) {
		if (agg_template_at(a, i, &id, &text, &len))
			continue;
		/*
		 * A set too small resets itself and forgets ids: an id missing here only makes the
		 * next report carry its text again, never hides one.
		 */
		if (template_seen_add(cur, id) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct report_wire *report_wire_new(const struct report_header *h, const struct report_capture *c,
				    const struct agg *a, const struct template_seen *prev,
				    uint64_t prev_seq, struct template_seen *cur)
{
	struct report_wire *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return NULL;
	jbuf_init(&w->text);
	jbuf_init(&w->fresh);
	w->prev_seq = prev_seq;
	w->has_prev = prev != NULL;
	err = wire_render(w, h, c, a, prev);
	if (!err && cur && wire_note_ids(a, cur)) {
		/* The next report must then send every text: it has no previous set to go by. */
		template_seen_clear(cur);
		err = -ENOMEM;
	}
	if (err) {
		report_wire_free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

struct report_wire *report_wire_from_json(const char *json, size_t len, size_t t_start,
					  size_t t_end, const char *fresh, size_t fresh_len,
					  uint64_t prev_seq)
{
	struct report_wire *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return NULL;
	jbuf_init(&w->text);
	jbuf_init(&w->fresh);
	w->prev_seq = prev_seq;
	w->has_prev = prev_seq != 0;
	jbuf_raw(&w->text, json, len);
	jbuf_raw(&w->fresh, fresh, fresh_len);
	err = jbuf_error(&w->text) ?: jbuf_error(&w->fresh);
	err = err ?: wire_pieces(w, t_start, t_end);
	if (err) {
		report_wire_free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

void report_wire_free(struct report_wire *w)
{
	if (!w)
		return;
	jbuf_free(&w->text);
	jbuf_free(&w->fresh);
	for (int i = 0; i < W_N; i++)
		free(w->z[i]);
	free(w);
}

size_t report_wire_bytes(const struct report_wire *w)
{
	return w ? sizeof(*w) + w->text.out.cap + w->fresh.out.cap + w->z_cap : 0;
}

/* "{" or "{"lost":N,": the head's text. */
static size_t wire_head_text(char *out, size_t cap, uint64_t lost)
{
	int n = lost ? snprintf(out, cap, "{\"lost\":%llu,", (unsigned long long)lost)
		     : snprintf(out, cap, "{");

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int report_wire_compose(const struct report_wire *w, bool snappy, uint64_t client_last,
			uint64_t lost, struct report_wire_msg *m)
{
	char head[48];
	size_t head_len = wire_head_text(head, sizeof(head), lost), plain = head_len;
	int idx[REPORT_WIRE_PIECES] = { W_BEFORE, W_ALL, W_AFTER };

	if (!w || !head_len)
		return -EINVAL;
	if (!lost && w->has_prev && client_last && client_last == w->prev_seq)
		idx[1] = W_NEW;
	m->len = 0;
	for (int i = 0; i < REPORT_WIRE_PIECES; i++) {
		int k = idx[i];

		m->piece[i] = snappy ? w->z[k] + w->z_skip[k] : w->plain[k];
		m->piece_len[i] = snappy ? w->z_len[k] : w->plain_len[k];
		m->len += m->piece_len[i];
		plain += w->plain_len[k];
	}
	if (!snappy) {
		memcpy(m->head, head, head_len);
		m->head_len = head_len;
	} else {
		char z[128];
		size_t zn = sizeof(z), skip, v;

		/* The block's varint is the whole message's length; the head's own is dropped. */
		if (snappy_compress(head, head_len, z, &zn) != SNAPPY_OK)
			return -EINVAL;
		skip = varint_len((const unsigned char *)z, zn);
		v = varint_put(m->head, plain);
		if (!skip || v + zn - skip > sizeof(m->head) || plain > UINT32_MAX)
			return -EINVAL;
		memcpy(m->head + v, z + skip, zn - skip);
		m->head_len = v + zn - skip;
	}
	m->len += m->head_len;
	return 0;
}

void report_wire_copy(const struct report_wire_msg *m, size_t off, size_t len, void *dst)
{
	unsigned char *d = dst;
	size_t n;

	if (off < m->head_len) {
		n = m->head_len - off < len ? m->head_len - off : len;
		memcpy(d, m->head + off, n);
		d += n, len -= n, off = 0;
	} else {
		off -= m->head_len;
	}
	for (int i = 0; len && i < REPORT_WIRE_PIECES; i++) {
		if (off >= m->piece_len[i]) {
			off -= m->piece_len[i];
			continue;
		}
		n = m->piece_len[i] - off < len ? m->piece_len[i] - off : len;
		memcpy(d, m->piece[i] + off, n);
		d += n, len -= n, off = 0;
	}
}
