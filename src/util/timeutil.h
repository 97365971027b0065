#ifndef SF_TIMEUTIL_H
#define SF_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch (for records shown to people). */
int64_t time_now_ms(void);
/* Monotonic milliseconds (for timeouts and delays: immune to clock changes). */
int64_t time_mono_ms(void);
/* "2026-11-28T23:45:01.123Z" into buf (at least 32 bytes). */
void time_format_iso(int64_t ms, char *buf, size_t size);
/* Parses a duration "500ms", "30s", "10m", "2h", "1d" into ms; -1 when malformed. */
int64_t duration_parse_ms(const char *s);

#endif
