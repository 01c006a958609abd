#ifndef CNETLINK_H
#define CNETLINK_H
// Kernel uapi headers and small wrappers that Glibc does not expose to Swift.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#endif
