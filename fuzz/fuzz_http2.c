/* fuzz_http2.c - libFuzzer target: arbitrary frames after the client
 * preface on an HTTP/2 connection (sans-I/O). See fuzz_http.h. */
#include "fuzz_http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    return fuzz_conn(KH_PROTO_H2, preface, sizeof preface - 1, data, size);
}
