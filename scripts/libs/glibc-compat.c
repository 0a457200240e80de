/* Definitions of glibc functions that exist only in glibc newer than the floor
 * (2.17), built on interfaces the floor has. Compiled once per function
 * (-DCOMPAT_<name>) into an archive linked after a library's objects: only what
 * the library references is pulled in, with hidden visibility, so nothing is
 * exported and the library's own references bind to it.
 *
 * stat family: exported functions since glibc 2.33; before, <sys/stat.h> made
 * them inline calls of __xstat & co. (GLIBC_2.2.5, still exported). On x86-64
 * and other LP64 targets struct stat64 is struct stat, _STAT_VER is 1 (0 on
 * some others, see below). */
#include <fcntl.h>
#include <sys/stat.h>

#if defined(__x86_64__)
#define STAT_VER 1
#elif defined(__aarch64__) || defined(__riscv)
#define STAT_VER 0
#else
#error "glibc-compat.c: set _STAT_VER for this architecture"
#endif

#define HIDDEN __attribute__((visibility("hidden")))

extern int __xstat(int, const char *, struct stat *);
extern int __fxstat(int, int, struct stat *);
extern int __lxstat(int, const char *, struct stat *);
extern int __fxstatat(int, int, const char *, struct stat *, int);

#if defined(COMPAT_stat) || defined(COMPAT_stat64)
HIDDEN int COMPAT_NAME(const char *path, struct stat *st)
{
	return __xstat(STAT_VER, path, st);
}
#elif defined(COMPAT_fstat) || defined(COMPAT_fstat64)
HIDDEN int COMPAT_NAME(int fd, struct stat *st)
{
	return __fxstat(STAT_VER, fd, st);
}
#elif defined(COMPAT_lstat) || defined(COMPAT_lstat64)
HIDDEN int COMPAT_NAME(const char *path, struct stat *st)
{
	return __lxstat(STAT_VER, path, st);
}
#elif defined(COMPAT_fstatat) || defined(COMPAT_fstatat64)
HIDDEN int COMPAT_NAME(int dirfd, const char *path, struct stat *st, int flags)
{
	return __fxstatat(STAT_VER, dirfd, path, st, flags);
}
#else
#error "glibc-compat.c: compile with -DCOMPAT_<name> -DCOMPAT_NAME=<name>"
#endif
