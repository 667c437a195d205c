#ifndef BLOCKVAULT_COPENSSL_SHIM_H
#define BLOCKVAULT_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#endif
