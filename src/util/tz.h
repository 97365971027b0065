#ifndef SF_TZ_H
#define SF_TZ_H

/*
 * Time zones without touching the process's TZ: a zone is read from its
 * TZif file (RFC 8536) under $TZDIR or /usr/share/zoneinfo, with the POSIX
 * rule at its end for times past its table.  Thread-safe once loaded, so
 * serve's threads can each ask about any DAG's zone.
 */
#include <stdint.h>

#include "util/strbuf.h"

struct tz;

/*
 * An IANA name such as "Europe/Berlin" (or "UTC"); NULL means the machine's
 * local zone: $TZ (a zone name, ":name", a file or a POSIX rule such as
 * "CET-1CEST,M3.5.0,M10.5.0/3"), else /etc/localtime, else UTC.
 * NULL with err saying why (an unknown name, a damaged file).
 */
struct tz *tz_load(const char *name, struct strbuf *err);
void tz_free(struct tz *z);
/* The name it was loaded as ("Europe/Berlin"; the local zone's name when known). */
const char *tz_name(const struct tz *z);
/* Seconds east of UTC in effect at instant t. */
int32_t tz_offset(const struct tz *z, int64_t t);
/* The first instant after t at which the offset changes, or INT64_MAX. */
int64_t tz_next_change(const struct tz *z, int64_t t);
/* t as ISO-8601 local time with its offset, "2027-03-28T03:00:00+02:00" (buf ≥ 32 bytes). */
void tz_format(const struct tz *z, int64_t t, char *buf, size_t size);

#endif
