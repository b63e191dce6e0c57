// What Swift cannot import from <srt/srt.h>, wrapped as static inline functions.
// Every C quirk of libsrt that the adapter needs lives here, and nowhere else.
#ifndef CSRT_SHIM_H
#define CSRT_SHIM_H

#include <srt/srt.h>
#include <srt/version.h>

/// SRT_VERSION_VALUE is a function-like macro; this is the version the headers were compiled against.
static inline int csrt_header_version(void) {
    return SRT_VERSION_VALUE;
}

#endif
