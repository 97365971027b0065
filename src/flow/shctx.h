#ifndef SF_SHCTX_H
#define SF_SHCTX_H

/*
 * Where a template sits in the shell text of a command (`run`, `on_success`,
 * `on_failure`): a bare word, inside "...", inside '...', or a place where
 * no quoting makes a value inert (backticks, $(( )), ${ }, a here-document,
 * a case pattern, a comment, an argument of eval ...).  The templates' values
 * never take part: each template is one placeholder byte in the text, read
 * as an inert part of a word.
 */

#include <stddef.h>

#include "util/strbuf.h"

enum sh_where { SHW_WORD, SHW_DQUOTE, SHW_SQUOTE, SHW_REFUSED };

struct sh_slot {
	size_t pos;             /* in: offset of the template's placeholder byte */
	enum sh_where where;    /* out */
	const char *why;        /* out when refused: why and what to write instead;
				   "{{}}" stands for the template */
	int alone;              /* out, SHW_WORD: the template is a whole word by itself
				   (nothing glued before or after it) */
};

/* Classifies every slot (given in increasing pos order) of the text. */
void sh_classify(const char *text, size_t len, struct sh_slot *slots, size_t nslots);

/* Appends val so that /bin/sh reads exactly its bytes at `where` (not SHW_REFUSED). */
void sh_quote_for(struct strbuf *out, enum sh_where where, const char *val);

#endif
