/* fuzz_http1.c - libFuzzer target: arbitrary bytes as a client's stream on
 * an HTTP/1.1 connection (sans-I/O; sniffing, so an h2 preface or an h2c
 * Upgrade also leads into HTTP/2). See fuzz_http.h for the harness. */
#include "fuzz_http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_conn(KH_PROTO_SNIFF, NULL, 0, data, size);
}
