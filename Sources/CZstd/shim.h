#ifndef BLOCKVAULT_CZSTD_SHIM_H
#define BLOCKVAULT_CZSTD_SHIM_H
/* The experimental parts (ZDICT_trainFromBuffer_fastCover, ZSTD_c_forceAttachDict) are used only
   when the library at run time is of the series these headers describe: see ZstdDictionary. */
#define ZSTD_STATIC_LINKING_ONLY
#define ZDICT_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zdict.h>
#endif
