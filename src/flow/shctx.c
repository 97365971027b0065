/*
 * A small reader of POSIX shell text that only answers one question: in
 * which quoting context does each template sit?  It follows quotes, $( ),
 * backticks, $(( )), ${ }, comments, here-documents, case patterns and the
 * command word (for eval).  Where it cannot be sure, it refuses: a refused
 * template is a validator error with a way out, a wrong guess would be a
 * hole.
 */
#include "flow/shctx.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "util/common.h"

enum fkind { F_CMD, F_DQ, F_SQ, F_ANSI, F_BQ, F_ARITH, F_PARAM };

#define MAX_DEPTH 64
#define MAX_CASE 32
#define MAX_HEREDOCS 16
#define MAX_DELIM 256

static const char why_bq[] =
	"is inside backticks, where no quoting is safe: write $( ) instead of backticks";
static const char why_arith[] =
	"is inside $(( )), where the value would be evaluated: set a variable first "
	"(v={{}}), check that it is a number, then write $(( v ))";
static const char why_param[] =
	"is inside ${ }, where no quoting is safe: set a variable first (v={{}}) and write ${v} "
	"or \"$v\" instead";
static const char why_ansi[] =
	"is inside $'...', where backslashes are interpreted: write '...' or \"...\" instead";
static const char why_body[] =
	"is inside a here-document, where nothing can be quoted: set a variable first "
	"(v={{}}) and write $v in a here-document with an unquoted delimiter (<<EOF)";
static const char why_delim[] =
	"is a here-document delimiter: write a fixed word such as EOF";
static const char why_case[] =
	"is a case pattern: set a variable first (v={{}}) and write \"$v\") as the pattern";
static const char why_comment[] =
	"is inside a comment, where a newline in the value would start a command: "
	"move it out of the comment";
static const char why_dollar[] =
	"follows '$', which would change how its quoting is read: remove the '$'";
static const char why_backslash[] =
	"follows a backslash, which would escape its opening quote: remove the backslash";
static const char why_eval[] =
	"is an argument of eval, which would run the value as shell code: set a variable "
	"first (v={{}}) and pass \"$v\" to a command instead";
static const char why_deep[] =
	"is nested too deeply in quotes and substitutions to be checked: simplify the command";

struct frame {
	enum fkind kind;
	int sub;                /* CMD: a $( ), ended by its ')' */
	int parens;             /* CMD: open subshells; ARITH, PARAM: nesting */
	int wstart;             /* CMD: the next word character starts a word */
	int cmdpos;             /* CMD: that word is in command position */
	int comment;
	int eval;               /* CMD: the simple command is eval */
	int case_next;          /* CMD: 1 the subject of 'case' comes, 2 then 'in' */
	int ncase;              /* CMD: open case statements */
	uint32_t case_pat;      /* CMD: bit i set while case i reads patterns */
	int hd_next;            /* CMD: 1 (<<) or 2 (<<-): the next word is a delimiter */
	char word[8];           /* CMD: the current word, for keywords */
	size_t wlen;
	int wplain;             /* ... and it has no quoting, no template */
	int wname, wassign;     /* ... it is NAME= so far: an assignment */
};

struct heredoc {
	char delim[MAX_DELIM];
	size_t len;
	int tabs;               /* <<-: leading tabs are stripped */
	int bad;                /* the delimiter holds a template or is too long */
};

struct lexer {
	const char *s;
	size_t len, i;
	struct sh_slot *slots;
	size_t nslots, next;
	struct frame st[MAX_DEPTH];
	int depth;
	int dollar;             /* the byte just read was a literal '$' */
	struct heredoc hd[MAX_HEREDOCS];
	int nhd, hd_cur;        /* delimiters seen; the one whose body is read */
	int collect;            /* 1 + the heredoc whose delimiter is being read */
	int in_body;
	const char *broken;     /* every later template is refused with this */
};

static int at_slot(const struct lexer *L, size_t i)
{
	return L->next < L->nslots && L->slots[L->next].pos == i;
}

static void slot_set(struct lexer *L, enum sh_where where, const char *why)
{
	L->slots[L->next].where = where;
	L->slots[L->next].why = where == SHW_REFUSED ? why : NULL;
	L->next++;
}

static void push(struct lexer *L, enum fkind kind)
{
	if (L->depth == MAX_DEPTH) {
		L->broken = why_deep;
		return;
	}
	L->st[L->depth] = (struct frame){ .kind = kind, .wstart = 1, .cmdpos = 1 };
	L->depth++;
}

static void pop(struct lexer *L)
{
	if (L->depth > 1)
		L->depth--;
}

static struct frame *nearest_cmd(struct lexer *L)
{
	for (int k = L->depth - 1; k >= 0; k--)
		if (L->st[k].kind == F_CMD)
			return &L->st[k];
	return &L->st[0];
}

static void hd_add(struct lexer *L, char c)
{
	struct heredoc *h;

	if (!L->collect)
		return;
	h = &L->hd[L->collect - 1];
	if (h->len + 1 < MAX_DELIM)
		h->delim[h->len++] = c;
	else
		h->bad = 1;
}

static int in_pattern(const struct frame *f)
{
	return f->ncase && (f->case_pat >> (f->ncase - 1) & 1u);
}

static void command_sep(struct frame *f)
{
	f->cmdpos = 1;
	f->eval = 0;
}

/* A byte of a word in a CMD frame (c == 0: a quoted part or a template). */
static void word_part(struct lexer *L, struct frame *f, char c)
{
	if (f->wstart) {
		f->wstart = 0;
		f->wlen = 0;
		f->wplain = 1;
		f->wname = 1;
		f->wassign = 0;
		if (f->hd_next) {
			if (L->nhd == MAX_HEREDOCS) {
				L->broken = why_deep;
			} else {
				L->hd[L->nhd] = (struct heredoc){ .tabs = f->hd_next == 2 };
				L->collect = ++L->nhd;
			}
			f->hd_next = 0;
		}
	}
	if (!c) {
		f->wplain = 0;
		if (!f->wassign)
			f->wname = 0;
		return;
	}
	if (f->wlen + 1 < sizeof(f->word))
		f->word[f->wlen++] = c;
	else
		f->wplain = 0;
	if (f->wname && !f->wassign) {
		if (c == '=' && f->wlen > 1)
			f->wassign = 1;
		else if (!(isalpha((unsigned char)c) || c == '_' ||
			   (f->wlen > 1 && isdigit((unsigned char)c))))
			f->wname = 0;
	}
}

static int is_word(const struct frame *f, const char *w)
{
	return f->wplain && f->wlen == strlen(w) && !memcmp(f->word, w, f->wlen);
}

static void end_word(struct lexer *L, struct frame *f)
{
	static const char *const leading[] = {
		"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi", "done",
		"exec", "command", "nohup", "time",
	};

	if (f->wstart)
		return;
	f->wstart = 1;
	if (L->collect) {
		L->collect = 0;
		return;
	}
	if (in_pattern(f)) {
		if (is_word(f, "esac")) {
			f->case_pat &= ~(1u << (f->ncase - 1));
			f->ncase--;
			f->cmdpos = 0;
		}
		return;
	}
	if (f->case_next == 1) {
		f->case_next = 2;
		return;
	}
	if (f->case_next == 2) {
		f->case_next = 0;
		if (is_word(f, "in")) {
			if (f->ncase == MAX_CASE) {
				L->broken = why_deep;
				return;
			}
			f->case_pat |= 1u << f->ncase++;
		}
		return;
	}
	if (!f->cmdpos)
		return;
	if (is_word(f, "case")) {
		f->case_next = 1;
		f->cmdpos = 0;
		return;
	}
	if (is_word(f, "esac") && f->ncase) {
		f->ncase--;
		f->cmdpos = 0;
		return;
	}
	if (is_word(f, "eval")) {
		f->eval = 1;
		f->cmdpos = 0;
		return;
	}
	for (size_t k = 0; k < ARRAY_SIZE(leading); k++)
		if (is_word(f, leading[k]))
			return;
	if (f->wassign)
		return;
	f->cmdpos = 0;
}

/* A backslash: the next byte is taken literally. */
static void escape(struct lexer *L)
{
	L->i++;
	if (L->i >= L->len)
		return;
	if (at_slot(L, L->i))
		slot_set(L, SHW_REFUSED, why_backslash);
	else
		hd_add(L, L->s[L->i]);
	L->i++;
}

static void dollar(struct lexer *L, int in_dq)
{
	const char *s = L->s + L->i;
	size_t left = L->len - L->i;

	if (left >= 3 && s[1] == '(' && s[2] == '(' && !at_slot(L, L->i + 1)) {
		L->i += 3;
		push(L, F_ARITH);
	} else if (left >= 2 && s[1] == '(' && !at_slot(L, L->i + 1)) {
		L->i += 2;
		push(L, F_CMD);
		L->st[L->depth - 1].sub = 1;
	} else if (left >= 2 && s[1] == '{' && !at_slot(L, L->i + 1)) {
		L->i += 2;
		push(L, F_PARAM);
	} else if (!in_dq && left >= 2 && s[1] == '\'' && !at_slot(L, L->i + 1)) {
		L->i += 2;
		push(L, F_ANSI);
	} else {
		hd_add(L, '$');
		L->i++;
		L->dollar = 1;
	}
}

static void newline(struct lexer *L, struct frame *f)
{
	if (!f->case_next)
		command_sep(f);
	if (L->hd_cur < L->nhd)
		L->in_body = 1;
}

static void cmd_byte(struct lexer *L, struct frame *f)
{
	const char *s = L->s;
	size_t i = L->i;
	char c = s[i], n1 = i + 1 < L->len ? s[i + 1] : 0;

	if (f->comment) {
		if (c == '\n') {
			f->comment = 0;
			newline(L, f);
		}
		L->i++;
		return;
	}
	switch (c) {
	case ' ':
	case '\t':
		end_word(L, f);
		L->i++;
		return;
	case '\n':
		end_word(L, f);
		L->i++;
		newline(L, f);
		return;
	case '#':
		if (f->wstart) {
			f->comment = 1;
			L->i++;
			return;
		}
		break;
	case '\\':
		if (n1 == '\n' && !at_slot(L, i + 1)) {
			L->i += 2;
			return;
		}
		word_part(L, f, 0);
		escape(L);
		return;
	case '\'':
		word_part(L, f, 0);
		L->i++;
		push(L, F_SQ);
		return;
	case '"':
		word_part(L, f, 0);
		L->i++;
		push(L, F_DQ);
		return;
	case '`':
		word_part(L, f, 0);
		L->i++;
		push(L, F_BQ);
		return;
	case '$':
		word_part(L, f, 0);
		dollar(L, 0);
		return;
	case ';':
		end_word(L, f);
		L->i++;
		if (n1 == ';' && !at_slot(L, i + 1)) {
			L->i++;
			if (f->ncase)
				f->case_pat |= 1u << (f->ncase - 1);
		}
		command_sep(f);
		return;
	case '&':
	case '|':
		end_word(L, f);
		L->i++;
		if (c == '|' && in_pattern(f))
			return;
		if (n1 == c && !at_slot(L, i + 1))
			L->i++;
		command_sep(f);
		return;
	case '<':
		end_word(L, f);
		L->i++;
		if (n1 != '<' || at_slot(L, i + 1))
			return;
		L->i++;
		if (L->i < L->len && s[L->i] == '<' && !at_slot(L, L->i)) {
			L->i++; /* bash's <<<: a plain word follows */
			return;
		}
		f->hd_next = 1;
		if (L->i < L->len && s[L->i] == '-' && !at_slot(L, L->i)) {
			L->i++;
			f->hd_next = 2;
		}
		return;
	case '>':
		end_word(L, f);
		L->i++;
		return;
	case '(':
		end_word(L, f);
		L->i++;
		if (in_pattern(f))
			return;
		f->parens++;
		command_sep(f);
		return;
	case ')':
		end_word(L, f);
		L->i++;
		if (in_pattern(f)) {
			f->case_pat &= ~(1u << (f->ncase - 1));
			command_sep(f);
		} else if (f->parens) {
			f->parens--;
		} else if (f->sub) {
			pop(L);
			word_part(L, &L->st[L->depth - 1], 0);
		}
		return;
	default:
		break;
	}
	word_part(L, f, c);
	hd_add(L, c);
	L->i++;
}

static void quoted_byte(struct lexer *L, struct frame *f)
{
	char c = L->s[L->i];

	switch (f->kind) {
	case F_DQ:
		if (c == '"') {
			L->i++;
			pop(L);
		} else if (c == '\\') {
			escape(L);
		} else if (c == '`') {
			L->i++;
			push(L, F_BQ);
		} else if (c == '$') {
			dollar(L, 1);
		} else {
			hd_add(L, c);
			L->i++;
		}
		return;
	case F_SQ:
		if (c != '\'')
			hd_add(L, c);
		else
			pop(L);
		L->i++;
		return;
	case F_ANSI:
	case F_BQ:
		if (c == '\\') {
			escape(L);
			return;
		}
		if (c == (f->kind == F_BQ ? '`' : '\''))
			pop(L);
		L->i++;
		return;
	case F_ARITH:
		L->i++;
		if (c == '(') {
			f->parens++;
		} else if (c == ')' && f->parens) {
			f->parens--;
		} else if (c == ')') {
			pop(L);
			if (L->i < L->len && L->s[L->i] == ')' && !at_slot(L, L->i))
				L->i++;
		} else if (c == '$') {
			L->i--;
			dollar(L, 1);
		}
		return;
	case F_PARAM:
		if (c == '\\') {
			escape(L);
			return;
		}
		if (c == '$') {
			dollar(L, 1);
			return;
		}
		L->i++;
		if (c == '{')
			f->parens++;
		else if (c == '}' && f->parens)
			f->parens--;
		else if (c == '}')
			pop(L);
		else if (c == '\'')
			push(L, F_SQ);
		else if (c == '"')
			push(L, F_DQ);
		return;
	case F_CMD:
		break;
	}
}

/* One line of a here-document body: templates there are refused. */
static void body_line(struct lexer *L)
{
	struct heredoc *h = &L->hd[L->hd_cur];
	const char *line = L->s + L->i, *nl = memchr(line, '\n', L->len - L->i);
	size_t n = nl ? (size_t)(nl - line) : L->len - L->i;

	while (L->next < L->nslots && L->slots[L->next].pos < L->i + n)
		slot_set(L, SHW_REFUSED, why_body);
	L->i += n + (nl != NULL);
	if (h->tabs)
		while (n && *line == '\t') {
			line++;
			n--;
		}
	if (!h->bad && n == h->len && !memcmp(line, h->delim, n) && ++L->hd_cur == L->nhd)
		L->in_body = 0;
}

/* Whether a word of a command ends before byte i: a blank, an operator or the end. */
static int word_ends(const struct lexer *L, size_t i)
{
	return i >= L->len || (!at_slot(L, i) && strchr(" \t\n;&|<>()", L->s[i]));
}

static void template_at(struct lexer *L, int was_dollar)
{
	struct frame *f = &L->st[L->depth - 1], *cmd = nearest_cmd(L);

	if (L->broken) {
		slot_set(L, SHW_REFUSED, L->broken);
		return;
	}
	for (int k = L->depth - 1; k >= 0; k--) {
		const char *why = L->st[k].kind == F_BQ ? why_bq : L->st[k].kind == F_ARITH ? why_arith
				: L->st[k].kind == F_PARAM ? why_param
				: L->st[k].kind == F_ANSI ? why_ansi : NULL;
		if (why) {
			slot_set(L, SHW_REFUSED, why);
			return;
		}
	}
	if (f->kind == F_CMD && f->hd_next)
		word_part(L, f, 0); /* starts the delimiter word */
	if (L->collect) {
		L->hd[L->collect - 1].bad = 1;
		slot_set(L, SHW_REFUSED, why_delim);
		return;
	}
	if (f->kind == F_CMD && f->comment)
		slot_set(L, SHW_REFUSED, why_comment);
	else if (was_dollar && f->kind != F_SQ)
		slot_set(L, SHW_REFUSED, why_dollar);
	else if (in_pattern(cmd))
		slot_set(L, SHW_REFUSED, why_case);
	else if (cmd->eval)
		slot_set(L, SHW_REFUSED, why_eval);
	else {
		slot_set(L, f->kind == F_CMD ? SHW_WORD : f->kind == F_DQ ? SHW_DQUOTE : SHW_SQUOTE,
			 NULL);
		L->slots[L->next - 1].alone = f->kind == F_CMD && f->wstart && word_ends(L, L->i + 1);
	}
	if (f->kind == F_CMD && !f->comment)
		word_part(L, f, 0);
}

void sh_classify(const char *text, size_t len, struct sh_slot *slots, size_t nslots)
{
	struct lexer *lp = xcalloc(1, sizeof(*lp)); /* ~5 KiB: not on a thread's stack */

	*lp = (struct lexer){ .s = text, .len = len, .slots = slots, .nslots = nslots };
	push(lp, F_CMD);
	while (lp->i < lp->len && lp->next < lp->nslots) {
		struct frame *f = &lp->st[lp->depth - 1];
		int was_dollar = lp->dollar;

		lp->dollar = 0;
		if (lp->in_body) {
			body_line(lp);
		} else if (at_slot(lp, lp->i)) {
			template_at(lp, was_dollar);
			lp->i++;
		} else if (f->kind == F_CMD) {
			cmd_byte(lp, f);
		} else {
			quoted_byte(lp, f);
		}
	}
	while (lp->next < lp->nslots)
		slot_set(lp, SHW_REFUSED, why_deep);
	free(lp);
}

void sh_quote_for(struct strbuf *out, enum sh_where where, const char *val)
{
	/*
	 * '...' holds every byte but ' literally.  Inside "..." or '...' the
	 * quote is closed first and opened again after, so the value is a
	 * '...' part of the same word either way.
	 */
	const char *around = where == SHW_DQUOTE ? "\"" : where == SHW_SQUOTE ? "'" : "";

	sb_adds(out, around);
	sb_add_shell_quoted(out, val);
	sb_adds(out, around);
}
