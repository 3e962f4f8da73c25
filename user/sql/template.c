// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The templater: one pass over a statement's tokens, writing its template (docs/TEMPLATES.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "sql/sql_lex.h"
#include "sql/template.h"

/*
 * Parentheses tracked for list collapsing. Deeper levels are still balanced (depth counts
 * them) but their groups are never collapsed; real statements nest far less.
 */
#define TPL_MAX_DEPTH 64
#define TPL_KW_NONE 0xffff

enum tpl_prev { P_START, P_LPAREN, P_DOT, P_OTHER };
enum tpl_frame_kind { F_OTHER, F_IN, F_ROW, F_ROW_CONT };
enum tpl_values { V_NONE, V_EXPECT_ROW, V_AFTER_ROW, V_AFTER_ROW_COMMA };

struct tpl_frame {
	size_t pos;	  /* output offset of "(" (F_ROW_CONT: of the "," before the row) */
	uint8_t kind;	  /* enum tpl_frame_kind */
	uint8_t lit_only; /* only literals, commas and literal-only groups so far */
	uint8_t nonempty;
	uint8_t unit;	  /* EXTRACT(, TIMESTAMPDIFF(: a first word is a time unit */
};

/* What spacing, sign and list decisions need to know about the last emitted token. */
struct tpl_last {
	uint8_t prev;		 /* enum tpl_prev */
	uint8_t tight_paren;	 /* a "(" after it opens an argument list: no space */
	uint8_t unary;		 /* a sign after it is unary */
	uint8_t op;		 /* an operator, "," or "(" */
	uint8_t is_lit;		 /* a literal */
	uint8_t is_str;		 /* a string literal: an adjacent one continues it */
	uint8_t comma_after_lit; /* a "," right after a literal */
	uint16_t kw_id;		 /* enum sql_kw_id of a keyword, TPL_KW_NONE otherwise */
};

struct tpl {
	char *out;
	size_t cap;  /* bytes of out we may fill */
	size_t olen; /* logical length: may pass cap, list collapsing rewinds it */
	struct tpl_last last;
	int sign_pending; /* a unary sign was written at sign_pos; a number folds it */
	size_t sign_pos;
	struct tpl_last sign_last;
	size_t lit_end;	  /* olen right after the last literal */
	int lit_run;	  /* that literal ends a collapsed "?, ..." */
	size_t comma_pos; /* olen before the "," after a VALUES row */
	int table_ctx;	  /* after INTO/TABLE/...: "(" opens a column list, not a call */
	int limit_ctx;	  /* after LIMIT: "?, ?" stays as it is */
	int values;	  /* enum tpl_values */
	int depth;	  /* open parentheses, untracked ones included */
	size_t semi_end;  /* olen after the last token that was not ";" */
	int last_semi;
	int stmt_start; /* no token of this statement yet */
	int verb_ctx;	/* SHOW, SET, START, ...: words at depth 0 are keywords (kw_is_name) */
	int set_ctx;	/* the statement is SET: "name =" assigns a variable */
	int show_ctx;	/* the statement is SHOW: SHOW TABLE STATUS names no table */
	struct tpl_frame frames[TPL_MAX_DEPTH];
};

static inline void put(struct tpl *t, const char *s, size_t n)
{
	if (t->olen < t->cap) {
		size_t room = t->cap - t->olen;

		memcpy(t->out + t->olen, s, n < room ? n : room);
	}
	t->olen += n;
}

static inline void put_c(struct tpl *t, char c)
{
	if (t->olen < t->cap)
		t->out[t->olen] = c;
	t->olen++;
}

/* Canonical spacing: one space between tokens except around "(", ")", ",", "." and ";". */
static inline void space_before(struct tpl *t, int type)
{
	if (t->last.prev != P_OTHER)
		return;
	switch (type) {
	case SQL_TOK_RPAREN:
	case SQL_TOK_COMMA:
	case SQL_TOK_DOT:
	case SQL_TOK_SEMI:
		return;
	case SQL_TOK_LPAREN:
		if (t->last.tight_paren && !t->table_ctx)
			return;
	}
	put_c(t, ' ');
}

static inline void set_last(struct tpl *t, int prev, int tight, int unary)
{
	t->last.prev = prev;
	t->last.tight_paren = tight;
	t->last.unary = unary;
	t->last.op = 0;
	t->last.is_lit = 0;
	t->last.is_str = 0;
	t->last.comma_after_lit = 0;
	t->last.kw_id = TPL_KW_NONE;
}

static inline struct tpl_frame *top(struct tpl *t)
{
	return t->depth > 0 && t->depth <= TPL_MAX_DEPTH ? &t->frames[t->depth - 1] : NULL;
}

/* The innermost group holds something other than literals: IN (...) does not apply. */
static inline void mark_nonlit(struct tpl *t)
{
	struct tpl_frame *f = top(t);

	if (f) {
		f->lit_only = 0;
		f->nonempty = 1;
	}
}

/* A literal or a placeholder. Runs of two or more in a comma list fold into "?, ...". */
static void emit_literal(struct tpl *t, int is_str)
{
	struct tpl_frame *f = top(t);

	if (is_str && t->last.is_str)
		return; /* 'a' 'b' is one string literal */
	t->table_ctx = 0;
	t->values = V_NONE;
	if (t->last.comma_after_lit && !t->limit_ctx) {
		t->olen = t->lit_end;
		if (!t->lit_run)
			put(t, ", ...", 5);
		t->lit_run = 1;
	} else {
		space_before(t, SQL_TOK_NUMBER);
		put_c(t, '?');
		t->lit_run = 0;
	}
	t->lit_end = t->olen;
	set_last(t, P_OTHER, 0, 0);
	t->last.is_lit = 1;
	t->last.is_str = is_str;
	if (f)
		f->nonempty = 1;
}

static void emit_comma(struct tpl *t)
{
	struct tpl_frame *f = top(t);
	int after_lit = t->last.is_lit;

	if (t->values == V_AFTER_ROW) {
		t->values = V_AFTER_ROW_COMMA;
		t->comma_pos = t->olen;
	} else {
		t->values = V_NONE;
	}
	put_c(t, ',');
	set_last(t, P_OTHER, 0, 1);
	t->last.op = 1;
	t->last.comma_after_lit = after_lit;
	t->table_ctx = 0;
	if (f)
		f->nonempty = 1;
}

static void emit_lparen(struct tpl *t)
{
	int kind = F_OTHER;
	size_t pos;

	if (t->last.kw_id == SQL_KW_IN)
		kind = F_IN;
	else if (t->values == V_EXPECT_ROW)
		kind = F_ROW;
	else if (t->values == V_AFTER_ROW_COMMA)
		kind = F_ROW_CONT;
	space_before(t, SQL_TOK_LPAREN);
	pos = kind == F_ROW_CONT ? t->comma_pos : t->olen;
	put_c(t, '(');
	if (t->depth < TPL_MAX_DEPTH) {
		struct tpl_frame *f = &t->frames[t->depth];

		f->pos = pos;
		f->kind = kind;
		f->lit_only = 1;
		f->nonempty = 0;
		f->unit = t->last.kw_id == SQL_KW_EXTRACT || t->last.kw_id == SQL_KW_TIMESTAMPDIFF ||
			  t->last.kw_id == SQL_KW_TIMESTAMPADD;
	}
	t->depth++;
	set_last(t, P_LPAREN, 0, 1);
	t->last.op = 1;
	t->table_ctx = 0;
	t->limit_ctx = 0;
	t->values = V_NONE;
}

static void emit_rparen(struct tpl *t)
{
	struct tpl_frame *f = top(t), *parent;
	int lit_only = 0, values = V_NONE;

	if (t->depth == 0) {
		put_c(t, ')'); /* unbalanced: written as it is */
	} else if (!f) {
		t->depth--;
		put_c(t, ')');
	} else {
		t->depth--;
		if (f->kind == F_ROW || f->kind == F_ROW_CONT) {
			t->olen = f->pos;
			if (f->kind == F_ROW)
				put(t, "(...)", 5);
			values = V_AFTER_ROW;
		} else if (f->kind == F_IN && f->lit_only && f->nonempty) {
			t->olen = f->pos;
			put(t, "(...)", 5);
			lit_only = 1;
		} else {
			put_c(t, ')');
			lit_only = f->lit_only;
		}
	}
	parent = top(t);
	if (parent) {
		parent->nonempty = 1;
		if (!lit_only)
			parent->lit_only = 0;
	}
	set_last(t, P_OTHER, 0, 0);
	t->table_ctx = 0;
	t->limit_ctx = 0;
	t->values = values;
}

static void emit_semi(struct tpl *t)
{
	put_c(t, ';');
	/* A new statement: nothing carries over. */
	set_last(t, P_OTHER, 0, 1);
	t->stmt_start = 1;
	t->depth = 0;
	t->table_ctx = 0;
	t->limit_ctx = 0;
	t->values = V_NONE;
}

/*
 * Quoted names may hold any byte; a template is one line of text and a C string, so control
 * bytes (NUL, newline, tab) are written as spaces.
 */
static void put_quoted(struct tpl *t, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put_c(t, sql_lex_is_space(s[i]) ? ' ' : s[i]);
}

static void emit_word(struct tpl *t, const char *s, size_t n, int tight)
{
	space_before(t, SQL_TOK_WORD);
	if (n && (s[0] == '`' || s[0] == '@'))
		put_quoted(t, s, n);
	else
		put(t, s, n);
	set_last(t, P_OTHER, tight, 0);
	mark_nonlit(t);
	t->limit_ctx = 0;
	t->values = V_NONE;
}

/* Keywords that name a table: a "(" after the name opens a column list. */
static inline int kw_names_table(int id)
{
	return id == SQL_KW_INTO || id == SQL_KW_TABLE || id == SQL_KW_INDEX ||
	       id == SQL_KW_REFERENCES || id == SQL_KW_VIEW;
}

static void emit_keyword(struct tpl *t, const struct sql_kw *kw)
{
	int reserved = kw->flags & SQL_KW_F_RESERVED;
	int tight = !reserved || (kw->flags & SQL_KW_F_FUNC);
	int unary = reserved && !(kw->flags & SQL_KW_F_OPERAND);
	/* SELECT SQL_NO_CACHE id: the select list still follows. */
	int select_opt = kw->id == SQL_KW_SQL_NO_CACHE || kw->id == SQL_KW_SQL_CACHE ||
			 kw->id == SQL_KW_SQL_BUFFER_RESULT;
	int values = V_NONE, prev_kw = t->last.kw_id;

	if (kw->id == SQL_KW_NULL && prev_kw != SQL_KW_IS && prev_kw != SQL_KW_NOT) {
		emit_literal(t, 0);
		return;
	}
	if (kw->id == SQL_KW_VALUES || kw->id == SQL_KW_VALUE) {
		/* VALUES(col) after an operator is the function; otherwise rows follow. */
		if (t->last.op) {
			tight = 1;
		} else {
			tight = 0;
			values = V_EXPECT_ROW;
		}
	}
	space_before(t, SQL_TOK_WORD);
	put(t, kw->word, kw->len);
	set_last(t, P_OTHER, tight, unary || select_opt);
	t->last.kw_id = kw->id;
	mark_nonlit(t);
	t->values = values;
	t->limit_ctx = kw->id == SQL_KW_LIMIT;
	if (kw->id == SQL_KW_SELECT || kw->id == SQL_KW_INSERT || kw->id == SQL_KW_UPDATE ||
	    kw->id == SQL_KW_DELETE || kw->id == SQL_KW_REPLACE || kw->id == SQL_KW_FROM ||
	    kw->id == SQL_KW_IN)
		t->verb_ctx = 0; /* EXPLAIN SELECT, SHOW COLUMNS FROM, SET @a = (SELECT ...) */
	if (kw_names_table(kw->id))
		t->table_ctx = 1;
	else if (reserved && kw->id != SQL_KW_IF && kw->id != SQL_KW_NOT && kw->id != SQL_KW_EXISTS)
		t->table_ctx = 0;
}

static int qident_is_plain(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!sql_lex_is_ident(s[i]))
			return 0;
	return 1;
}

/* `name` loses its quotes when the bare name reads back as the same identifier. */
static void emit_qident(struct tpl *t, const struct sql_lexer *lx, const struct sql_token *k)
{
	const char *s = k->p + 1;
	size_t n = k->len >= 2 && k->p[k->len - 1] == '`' ? k->len - 2 : 0;

	if (qident_is_plain(s, n)) {
		const char *e = lx->p;
		int before_dot = e + 1 < lx->end && *e == '.' &&
				 (sql_lex_is_ident(e[1]) || e[1] == '`');
		int qualified = t->last.prev == P_DOT || before_dot;
		const struct sql_kw *kw = qualified ? NULL : sql_kw_find(s, n);

		if (kw && (kw->flags & SQL_KW_F_CALL_ONLY) && sql_lex_peek(lx) != '(')
			kw = NULL;
		if (!kw) {
			emit_word(t, s, n, 1);
			return;
		}
	}
	emit_word(t, k->p, k->len, 1);
}

/* Optimizer hints stay, whitespace collapsed: they change the plan. */
static void emit_hint(struct tpl *t, const struct sql_token *k)
{
	const char *s = k->p + 3, *e = k->p + k->len;
	int unary = t->last.unary, sp = 1;

	if (e - s >= 2 && e[-2] == '*' && e[-1] == '/')
		e -= 2;
	space_before(t, SQL_TOK_HINT);
	put(t, "/*+", 3);
	for (; s < e; s++) {
		if (sql_lex_is_space(*s)) {
			sp = 1;
			continue;
		}
		if (sp)
			put_c(t, ' ');
		sp = 0;
		put_c(t, *s);
	}
	put(t, " */", 3);
	set_last(t, P_OTHER, 0, unary);
	mark_nonlit(t);
}

/* "..." of a template read back: it stands for more literals. */
static void emit_ellipsis(struct tpl *t)
{
	struct tpl_frame *f = top(t);

	if (t->last.comma_after_lit) {
		t->olen = t->lit_end;
		if (!t->lit_run)
			put(t, ", ...", 5);
	} else {
		space_before(t, SQL_TOK_OP);
		put(t, "...", 3);
	}
	t->lit_run = 1;
	t->lit_end = t->olen;
	set_last(t, P_OTHER, 0, 0);
	t->last.is_lit = 1;
	if (f)
		f->nonempty = 1;
}

static void emit_op(struct tpl *t, const struct sql_token *k)
{
	int sign = k->len == 1 && (k->p[0] == '-' || k->p[0] == '+') && t->last.unary;

	if (sign) {
		/* Kept unless a number follows: then "-1" is one literal. */
		t->sign_pending = 1;
		t->sign_pos = t->olen;
		t->sign_last = t->last;
	} else {
		mark_nonlit(t);
		t->limit_ctx = 0;
	}
	space_before(t, SQL_TOK_OP);
	put(t, k->p, k->len);
	set_last(t, P_OTHER, 0, 1);
	t->last.op = 1;
	t->table_ctx = 0;
	t->values = V_NONE;
}

/* The next token that is not a comment, without consuming it. */
static int peek_token(const struct sql_lexer *lx, struct sql_token *k)
{
	struct sql_lexer c = *lx;
	int type;

	do
		type = sql_lex_next(&c, k);
	while (type == SQL_TOK_COMMENT || type == SQL_TOK_HINT || type == SQL_TOK_EXEC_OPEN ||
	       type == SQL_TOK_EXEC_CLOSE);
	return type;
}

/* Keywords after which a name follows: FROM status, INTO user, UPDATE status. */
static inline int kw_before_table(int id)
{
	return kw_names_table(id) || id == SQL_KW_FROM || id == SQL_KW_JOIN || id == SQL_KW_UPDATE;
}

/* Statements whose second word is a name or an expression (SELECT id, DESC status). */
static inline int kw_name_verb(int id)
{
	switch (id) {
	case SQL_KW_SELECT:
	case SQL_KW_INSERT:
	case SQL_KW_UPDATE:
	case SQL_KW_DELETE:
	case SQL_KW_REPLACE:
	case SQL_KW_CALL:
	case SQL_KW_USE:
	case SQL_KW_DESC:
	case SQL_KW_DESCRIBE:
	case SQL_KW_DO:
	case SQL_KW_WITH:
	case SQL_KW_VALUES:
	case SQL_KW_TABLE:
		return 1;
	}
	return 0;
}

/* The first token of a statement says how its words read (SHOW STATUS vs SELECT status). */
static void stmt_begin(struct tpl *t, const struct sql_token *k)
{
	int id = k->type == SQL_TOK_WORD && k->kw ? k->kw->id : TPL_KW_NONE;

	t->verb_ctx = id != TPL_KW_NONE && !kw_name_verb(id);
	t->set_ctx = id == SQL_KW_SET;
	t->show_ctx = id == SQL_KW_SHOW;
}

/*
 * Whether the non-reserved keyword at the lexer's position is used as a name (a column
 * called status, a table called user) rather than as a keyword (SHOW STATUS, INTERVAL 1
 * DAY). The server's grammar decides this; a template only sees the neighbouring tokens, so
 * this reads the previous token (operand position or not) and the next one (what may follow
 * a name). docs/TEMPLATES.md lists the rules.
 */
static int kw_is_name(const struct tpl *t, const struct sql_lexer *lx)
{
	const struct tpl_frame *f = t->depth > 0 && t->depth <= TPL_MAX_DEPTH ?
					    &t->frames[t->depth - 1] : NULL;
	int prev = t->last.kw_id;
	struct sql_token nx;
	int next;

	if (t->stmt_start)
		return 0; /* the verb: BEGIN, COMMIT, START TRANSACTION */
	next = peek_token(lx, &nx);
	if (next == SQL_TOK_DOT)
		return 1; /* status.id */
	if (kw_before_table(prev) && !(prev == SQL_KW_TABLE && t->show_ctx))
		return 1;
	if (next == SQL_TOK_LPAREN)
		return 0; /* DATE(x), CHAR(10), VALUE (1) */
	if (t->verb_ctx && t->depth == 0)
		return t->set_ctx && next == SQL_TOK_OP && nx.len <= 2 &&
		       nx.p[nx.len - 1] == '='; /* SET NAMES utf8 vs SET timestamp = 1 */
	if (f && f->unit && !f->nonempty)
		return 0; /* EXTRACT(DAY FROM x) */
	/* After a literal, ")", a name or a keyword: INTERVAL 1 DAY, LOCK IN SHARE MODE. */
	if (!t->last.unary || prev == SQL_KW_READ)
		return 0;
	if (prev == SQL_KW_WITH)
		return next == SQL_TOK_WORD && nx.kw && nx.kw->id == SQL_KW_AS; /* WITH ROLLUP */
	switch (next) {
	case SQL_TOK_RPAREN:
		return prev != SQL_KW_AS; /* CAST(x AS DATE) */
	case SQL_TOK_EOF:
	case SQL_TOK_SEMI:
	case SQL_TOK_COMMA:
	case SQL_TOK_OP:
		return 1;
	case SQL_TOK_WORD:
		return nx.kw && ((nx.kw->flags & SQL_KW_F_FOLLOWS) || nx.kw->id == SQL_KW_END);
	}
	return 0;
}

static void emit_token(struct tpl *t, const struct sql_lexer *lx, const struct sql_token *k)
{
	const struct sql_kw *kw;

	switch (k->type) {
	case SQL_TOK_WORD:
		kw = k->kw;
		if (kw && (kw->flags & SQL_KW_F_CALL_ONLY) && sql_lex_peek(lx) != '(')
			kw = NULL;
		if (kw && !(kw->flags & SQL_KW_F_RESERVED) && kw_is_name(t, lx))
			kw = NULL;
		if (kw)
			emit_keyword(t, kw);
		else
			emit_word(t, k->p, k->len, 1);
		break;
	case SQL_TOK_QIDENT:
		emit_qident(t, lx, k);
		break;
	case SQL_TOK_NUMBER:
	case SQL_TOK_BINSTR:
	case SQL_TOK_PARAM:
		emit_literal(t, 0);
		break;
	case SQL_TOK_STRING:
		emit_literal(t, 1);
		break;
	case SQL_TOK_VAR:
		emit_word(t, k->p, k->len, 0);
		break;
	case SQL_TOK_LPAREN:
		emit_lparen(t);
		break;
	case SQL_TOK_RPAREN:
		emit_rparen(t);
		break;
	case SQL_TOK_COMMA:
		emit_comma(t);
		break;
	case SQL_TOK_DOT:
		put_c(t, '.');
		set_last(t, P_DOT, 0, 0);
		mark_nonlit(t);
		break;
	case SQL_TOK_SEMI:
		emit_semi(t);
		break;
	case SQL_TOK_HINT:
		emit_hint(t, k);
		break;
	default:
		if (k->len == 3 && k->p[0] == '.')
			emit_ellipsis(t);
		else
			emit_op(t, k);
		break;
	}
}

/* Resolves a pending unary sign: folded into a number that follows, kept otherwise. */
static void resolve_sign(struct tpl *t, int type)
{
	t->sign_pending = 0;
	if (type == SQL_TOK_NUMBER) {
		t->olen = t->sign_pos;
		t->last = t->sign_last;
	} else {
		mark_nonlit(t);
	}
}

/* The longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
	size_t i = n, cont = 0, need;
	unsigned char lead;

	while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0)
		return n;
	lead = s[i - 1];
	if (lead < 0xc0)
		return n;
	need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
	return cont < need ? i - 1 : n;
}

static void tpl_run(struct tpl *t, const char *sql, size_t len, struct template_info *info)
{
	struct sql_lexer lx;
	struct sql_token k;

	sql_lex_init(&lx, sql, len);
	while (sql_lex_next(&lx, &k) != SQL_TOK_EOF) {
		if (k.type == SQL_TOK_COMMENT) {
			if (!info->comment) {
				info->comment = k.p;
				info->comment_len = k.len;
			}
			continue;
		}
		if (k.type == SQL_TOK_EXEC_OPEN || k.type == SQL_TOK_EXEC_CLOSE)
			continue;
		if (t->sign_pending)
			resolve_sign(t, k.type);
		if (t->stmt_start)
			stmt_begin(t, &k);
		emit_token(t, &lx, &k);
		if (k.type != SQL_TOK_SEMI)
			t->stmt_start = 0;
		t->last_semi = k.type == SQL_TOK_SEMI;
		if (!t->last_semi)
			t->semi_end = t->olen;
	}
	if (t->last_semi)
		t->olen = t->semi_end; /* trailing ";" dropped */
}

int template_make(const char *sql, size_t len, char *out, size_t cap,
		  const struct template_opts *o, struct template_info *info)
{
	size_t max_len = o && o->max_len ? o->max_len : TEMPLATE_MAX_LEN_DEFAULT;
	struct tpl t;

	if (!out || !cap || !info || (!sql && len))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	memset(&t, 0, offsetof(struct tpl, frames));
	t.out = out;
	t.cap = cap - 1 < max_len ? cap - 1 : max_len;
	set_last(&t, P_START, 0, 1);
	t.stmt_start = 1;
	if (len)
		tpl_run(&t, sql, len, info);
	info->len = t.olen;
	if (t.olen > t.cap) {
		info->truncated = 1;
		info->len = utf8_cut(out, t.cap);
	}
	out[info->len] = '\0';
	info->id = template_id(out, info->len);
	return 0;
}

uint64_t template_id(const char *tmpl, size_t len)
{
	return XXH64(tmpl, len, 0);
}

void template_id_hex(uint64_t id, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, id);
}
