/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The SQL tokenizer shared by the templater and the statement splitter. */
#ifndef MP_SQL_LEX_H
#define MP_SQL_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "sql/sql_kw.h"

enum sql_tok_type {
	SQL_TOK_EOF = 0,
	SQL_TOK_WORD,       /* unquoted identifier or keyword (kw set when a keyword) */
	SQL_TOK_QIDENT,     /* `back-quoted identifier`, quotes included */
	SQL_TOK_NUMBER,     /* integer, decimal, float, exponent, 0x.., 0b.. */
	SQL_TOK_STRING,     /* '..', "..", _charset'..', N'..' */
	SQL_TOK_BINSTR,     /* X'..', B'..' */
	SQL_TOK_PARAM,      /* ? placeholder */
	SQL_TOK_VAR,        /* @name, @@name, @'name', @`name` */
	SQL_TOK_OP,         /* operator, 1 to 3 bytes */
	SQL_TOK_LPAREN,
	SQL_TOK_RPAREN,
	SQL_TOK_COMMA,
	SQL_TOK_DOT,
	SQL_TOK_SEMI,
	SQL_TOK_COMMENT,    /* comment, delimiters included */
	SQL_TOK_HINT,       /* optimizer hint, delimiters included */
	SQL_TOK_EXEC_OPEN,  /* opening of an executable comment; its content follows as tokens */
	SQL_TOK_EXEC_CLOSE, /* the closing of an executable comment */
};

struct sql_token {
	const char *p; /* into the input */
	size_t len;
	const struct sql_kw *kw; /* SQL_TOK_WORD only; NULL for identifiers */
	int type;		 /* enum sql_tok_type */
};

struct sql_lexer {
	const char *p;
	const char *end;
	int prev;    /* type of the last token that was not a comment */
	int in_exec; /* inside an executable comment */
};

void sql_lex_init(struct sql_lexer *lx, const char *sql, size_t len);

/*
 * Reads the next token into *t, skipping whitespace. Returns its type, SQL_TOK_EOF at the
 * end. Never fails: unterminated quotes and comments run to the end of the input, and a
 * byte that starts no token becomes a one-byte SQL_TOK_OP.
 */
int sql_lex_next(struct sql_lexer *lx, struct sql_token *t);

/* Returns the next byte that is not whitespace, or -1 at the end. */
int sql_lex_peek(const struct sql_lexer *lx);

#define SQL_LEX_C_IDENT 0x1 /* ASCII letter, digit, _, $ or non-ASCII byte */
#define SQL_LEX_C_SPACE 0x2 /* whitespace: every control byte counts as a separator */
#define SQL_LEX_C_DIGIT 0x4

/* Byte classes (a constant table: one load per byte on the hot path). */
extern const uint8_t sql_lex_class[256];

/* Whether c may appear in an unquoted identifier. */
static inline int sql_lex_is_ident(unsigned char c)
{
	return sql_lex_class[c] & SQL_LEX_C_IDENT;
}

/* Whether c is whitespace to the lexer. */
static inline int sql_lex_is_space(unsigned char c)
{
	return sql_lex_class[c] & SQL_LEX_C_SPACE;
}

#endif
