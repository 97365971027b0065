#ifndef SF_RANDOM_H
#define SF_RANDOM_H

#include <stddef.h>

/*
 * Random bytes from the kernel (getrandom), for tokens and ids: the one way
 * the program draws them.  0, or -1 with errno set (never short).
 */
int random_bytes(void *buf, size_t n);
/* nbytes random bytes as 2 * nbytes lowercase hex digits and a NUL in out. */
int random_hex(char *out, size_t nbytes);

#endif
