#include "CFuzzing.h"

#ifdef NETFORM_FUZZING
extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*callback)(const uint8_t *data, size_t size));
int netform_fuzzing(void) { return 1; }
int netform_run_fuzz_driver(int *argc, char ***argv, netform_fuzz_callback callback) {
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
#else
int netform_fuzzing(void) { return 0; }
int netform_run_fuzz_driver(int *argc, char ***argv, netform_fuzz_callback callback) {
    (void)argc; (void)argv; (void)callback;
    return -1;
}
#endif
