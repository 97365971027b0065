#ifndef SF_BANNED_H
#define SF_BANNED_H

/*
 * Functions that invite buffer overflows; use strbuf or snprintf instead.
 * Included last by every .c file through util/common.h (as git's banned.h).
 */
#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)

#endif
