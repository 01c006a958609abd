#ifndef CFUZZING_H
#define CFUZZING_H
#include <stddef.h>
#include <stdint.h>
// Bridge to libFuzzer's driver for the netform-fuzz target. Scripts/fuzz compiles
// this with -DNETFORM_FUZZING and links libFuzzer; a normal build has no libFuzzer
// and netform_fuzzing() returns 0, so the program replays files instead.
typedef int (*netform_fuzz_callback)(const uint8_t *data, size_t size);
int netform_fuzzing(void);
int netform_run_fuzz_driver(int *argc, char ***argv, netform_fuzz_callback callback);
#endif
