#ifndef BLOCKVAULT_CZSTD_SHIM_H
#define BLOCKVAULT_CZSTD_SHIM_H
#include <zstd.h>
#endif
