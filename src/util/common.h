#ifndef SF_COMMON_H
#define SF_COMMON_H

/* The headers nearly every module needs, and the banned-function guard. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#endif
