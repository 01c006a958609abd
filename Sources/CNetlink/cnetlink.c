#define _GNU_SOURCE
#include "CNetlink.h"
#include <sys/vfs.h>
#include <errno.h>

#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

int cnl_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
}

int cnl_unshare_net(void) {
    return unshare(CLONE_NEWNET) == 0 ? 0 : -errno;
}

int cnl_gettid(void) {
    return (int)syscall(SYS_gettid);
}

int cnl_bind_mount(const char *source, const char *target) {
    return mount(source, target, NULL, MS_BIND, NULL) == 0 ? 0 : -errno;
}

int cnl_make_shared_mountpoint(const char *path) {
    if (mount("", path, "none", MS_SHARED | MS_REC, NULL) == 0) return 0;
    if (errno != EINVAL) return -errno;
    // Not a mount point yet: bind it onto itself, then make it shared.
    if (mount(path, path, "none", MS_BIND | MS_REC, NULL) != 0) return -errno;
    return mount("", path, "none", MS_SHARED | MS_REC, NULL) == 0 ? 0 : -errno;
}

int cnl_umount_detach(const char *target) {
    return umount2(target, MNT_DETACH) == 0 ? 0 : -errno;
}

int cnl_is_nsfs(const char *path) {
    struct statfs fs;
    if (statfs(path, &fs) != 0) return -errno;
    return fs.f_type == 0x6e736673 ? 1 : 0;
}

int cnl_heap_limit_arenas(int n) {
    return mallopt(M_ARENA_MAX, n);
}

int cnl_heap_trim(void) {
    return malloc_trim(0);
}
