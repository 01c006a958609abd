#ifndef CNETLINK_H
#define CNETLINK_H
// Kernel uapi headers and small wrappers that Glibc does not expose to Swift.
//
// Only uapi headers are included here; `_GNU_SOURCE` lives in cnetlink.c alone
// (defining it in a header that Swift imports breaks Glibc's module).
//
// <netinet/in.h> comes first so that <linux/libc-compat.h> sees glibc's in6_addr and
// does not define a second one (if_bridge.h pulls in linux/in6.h).
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/veth.h>
#include <stdint.h>
#include <stddef.h>

// Alignment macros are function-like and therefore not imported by Swift.
static inline uint32_t cnl_nlmsg_align(uint32_t len) { return NLMSG_ALIGN(len); }
static inline uint32_t cnl_rta_align(uint32_t len) { return RTA_ALIGN(len); }
static inline uint32_t cnl_nlmsg_hdrlen(void) { return NLMSG_HDRLEN; }

// Namespace and thread wrappers (defined in cnetlink.c with _GNU_SOURCE).
// Each returns 0 (or a non-negative value) on success and -errno on failure.

/// setns(fd, CLONE_NEWNET) on the calling thread.
int cnl_setns_net(int fd);
/// unshare(CLONE_NEWNET) on the calling thread.
int cnl_unshare_net(void);
/// The kernel thread id of the calling thread.
int cnl_gettid(void);
/// mount(source, target, NULL, MS_BIND, NULL).
int cnl_bind_mount(const char *source, const char *target);
/// Makes `path` a shared mount point (bind-mounting it onto itself first when it
/// is not a mount point yet), the way iproute2 prepares /run/netns.
int cnl_make_shared_mountpoint(const char *path);
/// umount2(target, MNT_DETACH).
int cnl_umount_detach(const char *target);
/// 1 when `path` is a namespace file (nsfs), 0 when it is something else, -errno on error.
int cnl_is_nsfs(const char *path);

// glibc heap settings for a long-lived process (malloc.h is not in Swift's Glibc).

/// mallopt(M_ARENA_MAX, n): at most n heap arenas; 1 on success, 0 on failure.
int cnl_heap_limit_arenas(int n);
/// malloc_trim(0): gives freed heap memory back to the kernel; 1 when some was.
int cnl_heap_trim(void);

#endif
