/* Lets valgrind 3.19 run netform. libdispatch parks the main thread in
 * sigsuspend() with a mask in read-only memory, and valgrind's rt_sigsuspend
 * wrapper writes into the mask it is given: valgrind itself crashes (SIGSEGV,
 * "the 'impossible' happened"). This LD_PRELOAD shim passes a writable copy.
 * Only for Benchmarks/firewall.sh --callgrind; never linked into netform. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, 8);
}
