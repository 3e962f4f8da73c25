// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The statement splitter for multi-statement COM_QUERY ("Multiple Statement Execution
 * Support"); stored-program bodies ("Compound Statements") stay whole without DELIMITER. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sql/sql_lex.h"
#include "sql/sql_split.h"

struct split_stmt {
	const char *start; /* first token, comments included; NULL before it */
	const char *end;   /* end of the last token */
	int ntok;	   /* tokens that are not comments */
	int first_kw;	   /* enum sql_kw_id of the first word, -1 when not a keyword */
	int routine;	   /* CREATE ... PROCEDURE/FUNCTION/TRIGGER/EVENT/PACKAGE */
	int body_next;	   /* a routine's body may start at the next token */
	int depth;	   /* open compound statements (BEGIN, IF, CASE, LOOP, ...) */
	int inner_start;   /* the next token starts a statement inside a compound */
	int after_end;	   /* the last token was END: "END IF" closes, it does not open */
};

static int kw_id(const struct sql_token *k)
{
	return k->type == SQL_TOK_WORD && k->kw ? k->kw->id : -1;
}

static int opens_at_start(int id)
{
	return id == SQL_KW_BEGIN || id == SQL_KW_IF || id == SQL_KW_LOOP || id == SQL_KW_WHILE ||
	       id == SQL_KW_REPEAT || id == SQL_KW_CASE || id == SQL_KW_FOR;
}

/* One token inside a compound body (depth > 0). */
static void split_body_token(struct split_stmt *s, const struct sql_token *k)
{
	int id = kw_id(k);
	int after_end = s->after_end;
	int start = s->inner_start;

	s->after_end = 0;
	s->inner_start = 0;
	if (after_end && (id == SQL_KW_IF || id == SQL_KW_CASE || id == SQL_KW_LOOP ||
			  id == SQL_KW_WHILE || id == SQL_KW_REPEAT || id == SQL_KW_FOR))
		return; /* END IF, END LOOP, ...: already closed by END */
	if (id == SQL_KW_END) {
		s->depth--;
		s->after_end = 1;
		return;
	}
	/* BEGIN opens a block anywhere (a handler body too); CASE ends with END everywhere. */
	if (id == SQL_KW_BEGIN || id == SQL_KW_CASE || (start && opens_at_start(id))) {
		s->depth++;
		s->inner_start = id == SQL_KW_BEGIN;
		return;
	}
	if (k->type == SQL_TOK_SEMI || id == SQL_KW_THEN || id == SQL_KW_ELSE ||
	    id == SQL_KW_DO || id == SQL_KW_ATOMIC || (k->type == SQL_TOK_OP && k->len == 1 &&
							 k->p[0] == ':'))
		s->inner_start = 1;
	/* "lbl: LOOP": a label keeps the statement start. */
	if (start && k->type == SQL_TOK_WORD && !k->kw)
		s->inner_start = 1;
}

/* One token of a statement outside any compound body (depth == 0). */
static void split_top_token(struct split_stmt *s, const struct sql_token *k)
{
	int id = kw_id(k);

	if (s->ntok == 1) {
		s->first_kw = id;
		return;
	}
	if (s->ntok == 2 && s->first_kw == SQL_KW_BEGIN && id == SQL_KW_NOT) {
		s->depth = 1; /* BEGIN NOT ATOMIC ... END */
		return;
	}
	if (s->first_kw != SQL_KW_CREATE)
		return;
	if (id == SQL_KW_PROCEDURE || id == SQL_KW_FUNCTION || id == SQL_KW_TRIGGER ||
	    id == SQL_KW_EVENT || id == SQL_KW_PACKAGE) {
		s->routine = 1;
		return;
	}
	if (!s->routine)
		return;
	if (s->after_end) {
		s->after_end = 0;
		if (id != SQL_KW_BEGIN && opens_at_start(id))
			return; /* the IF of the body's closing END IF */
	}
	if (id == SQL_KW_BEGIN || (s->body_next && opens_at_start(id))) {
		s->depth = 1;
		s->body_next = 0;
		s->inner_start = id == SQL_KW_BEGIN;
		return;
	}
	/* The body of a trigger follows FOR EACH ROW, an event's follows DO. */
	s->body_next = (k->type == SQL_TOK_WORD && k->len == 3 && !strncasecmp(k->p, "ROW", 3)) ||
		       id == SQL_KW_DO || (k->type == SQL_TOK_OP && k->len == 1 && k->p[0] == ':');
}

static int split_emit(const char *sql, const struct split_stmt *s, struct sql_span *spans,
		      int max_spans, int n)
{
	if (!s->start || !s->ntok)
		return n;
	if (n < max_spans) {
		spans[n].off = s->start - sql;
		spans[n].len = s->end - s->start;
	}
	return n + 1;
}

int sql_split(const char *sql, size_t len, struct sql_span *spans, int max_spans)
{
	struct split_stmt s;
	struct sql_lexer lx;
	struct sql_token k;
	int n = 0;

	if ((!spans && max_spans > 0) || (!sql && len))
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	sql_lex_init(&lx, sql, len);
	while (sql_lex_next(&lx, &k) != SQL_TOK_EOF) {
		if (k.type == SQL_TOK_SEMI && s.depth <= 0) {
			n = split_emit(sql, &s, spans, max_spans, n);
			memset(&s, 0, sizeof(s));
			continue;
		}
		if (!s.start)
			s.start = k.p;
		s.end = k.p + k.len;
		if (k.type == SQL_TOK_COMMENT || k.type == SQL_TOK_EXEC_OPEN ||
		    k.type == SQL_TOK_EXEC_CLOSE || k.type == SQL_TOK_HINT)
			continue;
		s.ntok++;
		if (s.depth > 0)
			split_body_token(&s, &k);
		else
			split_top_token(&s, &k);
	}
	return split_emit(sql, &s, spans, max_spans, n);
}

int sql_is_call(const char *stmt, size_t len)
{
	struct sql_lexer lx;
	struct sql_token k;

	if (!stmt)
		return 0;
	sql_lex_init(&lx, stmt, len);
	while (sql_lex_next(&lx, &k) != SQL_TOK_EOF) {
		if (k.type == SQL_TOK_COMMENT || k.type == SQL_TOK_EXEC_OPEN ||
		    k.type == SQL_TOK_EXEC_CLOSE)
			continue;
		return kw_id(&k) == SQL_KW_CALL;
	}
	return 0;
}
