// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: the templater and the statement splitter on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql_split.h"
#include "sql/template.h"

#define FUZZ_MAX_SPANS 64

static void fuzz_template(const char *sql, size_t len, size_t cap, size_t max_len)
{
	struct template_opts o = { .max_len = max_len };
	struct template_info info;
	char *out = malloc(cap);

	if (!out)
		return;
	if (template_make(sql, len, out, cap, &o, &info))
		abort();
	if (info.len >= cap || out[info.len] != '\0' || strlen(out) != info.len)
		abort();
	if (max_len && info.len > max_len)
		abort();
	if (info.id != template_id(out, info.len))
		abort();
	if (info.comment && (info.comment < sql || info.comment + info.comment_len > sql + len))
		abort();
	free(out);
}

static void fuzz_split(const char *sql, size_t len)
{
	struct sql_span spans[FUZZ_MAX_SPANS];
	size_t prev_end = 0;
	int n, i;

	n = sql_split(sql, len, spans, FUZZ_MAX_SPANS);
	if (n < 0)
		abort();
	for (i = 0; i < n && i < FUZZ_MAX_SPANS; i++) {
		if (spans[i].off < prev_end || spans[i].off + spans[i].len > len || !spans[i].len)
			abort();
		prev_end = spans[i].off + spans[i].len;
		sql_is_call(sql + spans[i].off, spans[i].len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so ASan sees any read past the end. */
	char *sql = malloc(size ? size : 1);

	if (!sql)
		return 0;
	memcpy(sql, data, size);
	fuzz_template(sql, size, 4097, 0);
	fuzz_template(sql, size, 64, 0);
	fuzz_template(sql, size, size + 1, size / 2 + 1);
	fuzz_template(sql, size, 1, 0);
	fuzz_split(sql, size);
	free(sql);
	return 0;
}
