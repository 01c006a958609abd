#include "CFuzzing.h"

extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*callback)(const uint8_t *data, size_t size)) __attribute__((weak));

int netform_fuzz_driver_available(void) { return LLVMFuzzerRunDriver != 0; }

int netform_run_fuzz_driver(int *argc, char ***argv, netform_fuzz_callback callback) {
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
