#ifndef CFUZZING_H
#define CFUZZING_H
#include <stddef.h>
#include <stdint.h>
// libFuzzer's driver entry point. Declared weak: it is present only when the fuzz
// target is linked with -sanitize=fuzzer (Scripts/fuzz); otherwise it is NULL and the
// program replays the files it is given instead.
typedef int (*netform_fuzz_callback)(const uint8_t *data, size_t size);
int netform_fuzz_driver_available(void);
int netform_run_fuzz_driver(int *argc, char ***argv, netform_fuzz_callback callback);
#endif
