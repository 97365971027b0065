/*
 * A task as cheap as true(1) that leaves a trace: appends "LABEL NS\n" to
 * FILE, NS being CLOCK_MONOTONIC in nanoseconds when it started.
 *
 *   stamp FILE LABEL
 *
 * bench/run.sh chains these: task i+1's stamp minus task i's stamp is the
 * time from one task's exit to the next one's start, as the scheduler
 * delivers it (reaping, bookkeeping, spawning), plus a few microseconds of
 * exec and this write, which every scheduler measured pays alike.  It is
 * standalone (not part of the synthflow build) so that the same binary
 * serves make, ninja and synthflow.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	char line[128];
	int fd, len;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (argc != 3) {
		fputs("usage: stamp FILE LABEL\n", stderr);
		return 2;
	}
	len = snprintf(line, sizeof(line), "%s %lld\n", argv[2],
		       (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	if (len < 0 || (size_t)len >= sizeof(line)) {
		fputs("stamp: label too long\n", stderr);
		return 2;
	}
	/* O_APPEND: one write(2) per line keeps concurrent lines whole */
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)len) != len) {
		perror("stamp");
		return 1;
	}
	return close(fd) == 0 ? 0 : 1;
}
