/* The read floor for a no-op plan: what reading every namespace netform observes costs
 * over raw rtnetlink from C, on one thread.
 *   nlread
 * Reads the host namespace, then each namespace under /run/netns: open it, setns into
 * it, open an rtnetlink socket there, dump links (no statistics), addresses, routes and
 * neighbours, each message's attributes counted (a cheap parse), read its /etc/netns
 * files, close, setns back. Prints one JSON line.
 * Build: gcc -O2 -I../shared/bench -o nlread Benchmarks/nlread.c (nl.h is the shared
 * floor's helpers). Run it only inside Scripts/sandbox, like everything that reads the
 * kernel's state in benchmarks. */
#include "nl.h"
#include <dirent.h>

static long nmsgs, nattrs;
static size_t nbytes;

static void dump_all(void) {
    int s = nl_open();
    nbytes += nl_dump(s, RTM_GETLINK, AF_UNSPEC, &nmsgs, &nattrs);
    nbytes += nl_dump(s, RTM_GETADDR, AF_UNSPEC, &nmsgs, &nattrs);
    nbytes += nl_dump(s, RTM_GETROUTE, AF_UNSPEC, &nmsgs, &nattrs);
    /* struct ndmsg has the size of struct rtmsg, family first: nl_dump's route case fits. */
    nbytes += nl_dump(s, RTM_GETNEIGH, AF_UNSPEC, &nmsgs, &nattrs);
    close(s);
}

static void read_files(const char *name) {
    char dir[512], path[1024], data[65536];
    snprintf(dir, sizeof dir, "/etc/netns/%s", name);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f < 0) continue;
        ssize_t r;
        while ((r = read(f, data, sizeof data)) > 0) nbytes += r;
        close(f);
    }
    closedir(d);
}

int main(void) {
    int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host < 0) die("open host ns");
    double t0 = now();
    dump_all();
    int count = 0;
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "/run/netns/%s", e->d_name);
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f < 0) continue;
        if (setns(f, CLONE_NEWNET) < 0) { close(f); continue; }
        dump_all();
        if (setns(host, CLONE_NEWNET) < 0) die("setns back");
        close(f);
        read_files(e->d_name);
        count++;
    }
    if (d) closedir(d);
    double t1 = now();
    printf("{\"namespaces\":%d,\"messages\":%ld,\"attributes\":%ld,\"bytes\":%zu,\"total_s\":%.6f}\n",
           count, nmsgs, nattrs, nbytes, t1 - t0);
    return 0;
}
