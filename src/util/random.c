/* Random bytes and hex tokens (see random.h). */
#include "util/random.h"

#include <errno.h>
#include <sys/random.h>

#include "util/common.h"

int random_bytes(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			got += (size_t)r;
	}
	return 0;
}

int random_hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[64];

	if (nbytes > sizeof(b))
		BUG("random_hex of %zu bytes", nbytes);
	if (random_bytes(b, nbytes) < 0)
		return -1;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}
