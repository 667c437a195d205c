#ifndef BLOCKVAULT_CLINUX_SHIM_H
#define BLOCKVAULT_CLINUX_SHIM_H
/* Linux system calls that glibc has no wrapper for (Swift cannot call the variadic syscall(2)), and
   the extended attribute calls, whose header (sys/xattr.h) Glibc's Swift module leaves out. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/xattr.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* O_PATH, which glibc's headers define only under _GNU_SOURCE (its value on all but alpha, parisc
   and sparc). */
#define BLOCKVAULT_O_PATH 010000000

/* openat2(2)'s resolve flags (linux/openat2.h). */
#define BLOCKVAULT_RESOLVE_NO_XDEV       0x01
#define BLOCKVAULT_RESOLVE_NO_MAGICLINKS 0x02
#define BLOCKVAULT_RESOLVE_NO_SYMLINKS   0x04
#define BLOCKVAULT_RESOLVE_BENEATH       0x08

/* openat2(dirfd, path, {flags, 0, resolve}) (Linux 5.6): -1 with errno set on failure, ENOSYS where
   the kernel (or a seccomp filter) does not offer it. */
static inline int blockvault_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
#if defined(__linux__)
#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif
    struct { uint64_t flags, mode, resolve; } how = { flags, 0, resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    (void)dirfd; (void)path; (void)flags; (void)resolve;
    errno = ENOSYS;
    return -1;
#endif
}
#endif
