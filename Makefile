# Kumo build. `make` builds build/kumo and build/libkumo.a; `make test` runs
# every test; `make asan-test` runs them all under ASan+UBSan.
# BUILD=asan (or CC=clang) selects the variant; objects go to $(OUT).

CC      ?= cc
BUILD   ?= release
SHARED  ?= ../shared

WARN    = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Wpointer-arith -Wundef -Wwrite-strings \
          -Wimplicit-fallthrough -Werror
DEFS    = -D_GNU_SOURCE
INCS    = -Iinclude -Isrc -I$(LLHTTP_INC)
# llhttp's generated C parser ships in Debian's node-llhttp; it is compiled
# into libkumo from there (never copied into the tree).
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

ifeq ($(BUILD),asan)
OUT     = build-asan
OPT     = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
          -fno-sanitize-recover=all
LDOPT   = -fsanitize=address,undefined
else ifeq ($(BUILD),clang)
OUT     = build-clang
OPT     = -O2 -g
LDOPT   =
else
OUT     = build
OPT     = -O2 -g
LDOPT   =
endif

CFLAGS_ALL = $(WARN) $(DEFS) $(INCS) $(OPT) $(CFLAGS)
LIBS    = -lm -luv -lpthread
CLI_LIBS = -ljansson

LIB_SRC = $(wildcard src/base/*.c) $(wildcard src/engine/*.c) $(wildcard src/component/*.c) \
          $(wildcard src/wasi/*.c) \
          $(wildcard src/http/*.c) \
          $(wildcard src/host/*.c)
CLI_SRC = $(wildcard src/cli/*.c)
UNIT_SRC = $(wildcard tests/unit/*.c)

LIB_OBJ = $(LIB_SRC:%.c=$(OUT)/obj/%.o) $(LLHTTP_OBJ)
LLHTTP_OBJ = $(patsubst %,$(OUT)/obj/llhttp/%.o,api http llhttp)
HTTP_LIBS = -lnghttp2 -lssl -lcrypto -lcurl
LIBS    += $(HTTP_LIBS)
CLI_OBJ = $(CLI_SRC:%.c=$(OUT)/obj/%.o)
UNIT_OBJ = $(UNIT_SRC:%.c=$(OUT)/obj/%.o)

# WASI 0.2 host bindings: tools/witgen reads the WIT of $(SHARED)/spec at
# build time (it is never copied into the tree) and writes
# $(OUT)/gen/wasi_bind.{h,c} (never edited, never committed), which is
# compiled into libkumo; src/wasi/p2_*.c implement its typed prototypes.
# Regenerated when the generator or the WIT changes.
WIT_DIR  = $(SHARED)/spec/wasi/0.2.12/proposals
WASI_WIT = $(patsubst %,$(WIT_DIR)/%/wit,io clocks random cli filesystem sockets http)
WASI_IFACES = wasi:io/error wasi:io/poll wasi:io/streams \
    wasi:clocks/monotonic-clock wasi:clocks/wall-clock \
    wasi:random/random wasi:random/insecure wasi:random/insecure-seed \
    wasi:cli/environment wasi:cli/exit wasi:cli/stdin wasi:cli/stdout \
    wasi:cli/stderr wasi:cli/terminal-input wasi:cli/terminal-output \
    wasi:cli/terminal-stdin wasi:cli/terminal-stdout wasi:cli/terminal-stderr \
    wasi:filesystem/types wasi:filesystem/preopens \
    wasi:sockets/network wasi:sockets/instance-network wasi:sockets/udp \
    wasi:sockets/udp-create-socket wasi:sockets/tcp \
    wasi:sockets/tcp-create-socket wasi:sockets/ip-name-lookup \
    wasi:http/types wasi:http/outgoing-handler
WITGEN  = $(OUT)/witgen
WITGEN_OBJ = $(patsubst %.c,$(OUT)/obj/%.o,$(wildcard tools/witgen/*.c) \
    $(wildcard src/base/*.c) src/component/witlex.c \
    src/component/witparse.c src/component/witresolve.c)
GEN_OBJ = $(OUT)/obj/gen/wasi_bind.o
LIB_OBJ += $(GEN_OBJ)
INCS    += -I$(OUT)/gen
# the unit tests also link the generator and bindings of a test WIT
UNIT_GEN_OBJ = $(OUT)/obj/tools/witgen/gen.o $(OUT)/obj/gen/wgtest_bind.o

.PHONY: all test unit-test spec-test wasi-test http-test serve-test bench-http asan-test fuzz fuzz-replay clang-check clean bench bench-inst bench-fiber
all: $(OUT)/kumo $(OUT)/libkumo.a

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(OUT)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -w -I$(LLHTTP_INC) -c $< -o $@

$(WITGEN): $(WITGEN_OBJ)
	$(CC) $(LDOPT) -o $@ $^

$(OUT)/gen/wasi_bind.h $(OUT)/gen/wasi_bind.c &: $(WITGEN) \
        $(wildcard $(WIT_DIR)/*/wit/*.wit)
	@mkdir -p $(OUT)/gen
	ASAN_OPTIONS=detect_leaks=0 $(WITGEN) --prefix kx \
	    --out $(OUT)/gen/wasi_bind --feature cli-exit-with-code \
	    $(WASI_WIT) -- $(WASI_IFACES)

$(OUT)/gen/wgtest_bind.h $(OUT)/gen/wgtest_bind.c &: $(WITGEN) \
        tests/unit/witgen-test.wit
	@mkdir -p $(OUT)/gen
	ASAN_OPTIONS=detect_leaks=0 $(WITGEN) --prefix wgt \
	    --out $(OUT)/gen/wgtest_bind tests/unit/witgen-test.wit -- \
	    kumo:test/things kumo:test/more

$(OUT)/obj/gen/%.o: $(OUT)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# sources including a generated header wait for it
$(filter $(OUT)/obj/src/wasi/% $(OUT)/obj/src/http/whttp%,$(LIB_OBJ)) \
    $(UNIT_OBJ): | \
    $(OUT)/gen/wasi_bind.h $(OUT)/gen/wgtest_bind.h

$(OUT)/libkumo.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/kumo: $(CLI_OBJ) $(OUT)/libkumo.a
	$(CC) $(LDOPT) -o $@ $(CLI_OBJ) $(OUT)/libkumo.a $(CLI_LIBS) $(LIBS)

$(OUT)/unit-tests: $(UNIT_OBJ) $(UNIT_GEN_OBJ) $(OUT)/libkumo.a
	$(CC) $(LDOPT) -o $@ $(UNIT_OBJ) $(UNIT_GEN_OBJ) $(OUT)/libkumo.a $(LIBS)

# unit-test and spec-test leave their logs in $(OUT)/ (unit.log,
# spec-*.log); `make test` runs both even when one fails and ends with the
# summary line of tests/summary.sh, failing when anything failed.
unit-test: $(OUT)/unit-tests
	@{ $(OUT)/unit-tests; echo $$? > $(OUT)/unit.rc; } 2>&1 \
	    | tee $(OUT)/unit.log; exit $$(cat $(OUT)/unit.rc)

spec-test: $(OUT)/kumo
	OUT=$(OUT) tests/spec/run-spec.sh $(OUT)/kumo $(SHARED)

# wasi-test: `kumo run` integration tests (tests/wasi/run-tests.sh builds
# the guests with clang + wasi-libc into $(OUT)/wasi; skipped without that
# toolchain); log in $(OUT)/wasi.log.
wasi-test: $(OUT)/kumo
	@{ tests/wasi/run-tests.sh $(OUT)/kumo $(OUT)/wasi $(SHARED); \
	   echo $$? > $(OUT)/wasi.rc; } 2>&1 | tee $(OUT)/wasi.log; \
	exit $$(cat $(OUT)/wasi.rc)

# http-test: the HTTP server against curl (tests/http/run-tests.sh, a demo
# server on 127.0.0.1 random ports); log in $(OUT)/http.log.
$(OUT)/http-demo: tests/http/demo.c $(OUT)/libkumo.a
	$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(OUT)/libkumo.a $(LIBS)

# The outbound client's tests (tests/http/client-tests.sh driving
# tests/http/client-test.c against the demo server) run in the same target.
$(OUT)/http-client-test: tests/http/client-test.c $(OUT)/libkumo.a
	$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< $(OUT)/libkumo.a $(LIBS)

http-test: $(OUT)/http-demo $(OUT)/http-client-test
	@{ tests/http/run-tests.sh $(OUT)/http-demo $(OUT)/http; r=$$?; \
	   tests/http/client-tests.sh $(OUT)/http-demo $(OUT)/http-client-test \
	       $(OUT)/http-client || r=1; \
	   echo $$r > $(OUT)/http.rc; } 2>&1 | tee $(OUT)/http.log; \
	exit $$(cat $(OUT)/http.rc)

# serve-test: `kumo serve` end to end (tests/serve/run-tests.sh: the
# fixture components of tests/serve/fixtures and ../shared/components with
# curl, nghttp and python3 on 127.0.0.1 random ports); log in
# $(OUT)/serve.log.
serve-test: $(OUT)/kumo
	@{ tests/serve/run-tests.sh $(OUT)/kumo $(OUT)/serve $(SHARED); \
	   echo $$? > $(OUT)/serve.rc; } 2>&1 | tee $(OUT)/serve.log; \
	exit $$(cat $(OUT)/serve.rc)

test: all
	@rm -f $(OUT)/unit.log $(OUT)/spec-*.log $(OUT)/wasi.log $(OUT)/http.log $(OUT)/serve.log; rc=0; \
	$(MAKE) --no-print-directory unit-test || rc=1; \
	$(MAKE) --no-print-directory spec-test || rc=1; \
	$(MAKE) --no-print-directory wasi-test || rc=1; \
	$(MAKE) --no-print-directory http-test || rc=1; \
	$(MAKE) --no-print-directory serve-test || rc=1; \
	tests/summary.sh $(OUT) || rc=1; \
	exit $$rc

asan-test:
	@rm -f build-asan/wasi.log build-asan/http.log build-asan/serve.log
	$(MAKE) BUILD=asan unit-test spec-test wasi-test http-test serve-test
	@tests/summary.sh build-asan

# Both compilers must build the tree warning-free (-Werror).
clang-check:
	$(MAKE) CC=clang BUILD=clang all build-clang/unit-tests

# libFuzzer targets (clang). `make fuzz` builds them; `make fuzz-replay`
# runs each over its checked-in corpus once (what CI does).
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_FLAGS = $(WARN) $(DEFS) $(INCS) -O1 -g -fsanitize=fuzzer,address,undefined \
             -fno-sanitize-recover=all
FUZZ_LLHTTP = $(patsubst %,build-fuzz/llhttp/%.o,api http llhttp)
build-fuzz/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p build-fuzz/llhttp
	clang -O1 -g -w -fsanitize=fuzzer-no-link,address,undefined -I$(LLHTTP_INC) -c $< -o $@
# The library is compiled once for all targets (instrumented, not linked
# with libFuzzer's main), then each target links against it.
FUZZ_LIB_FLAGS = $(WARN) $(DEFS) $(INCS) -O1 -g \
             -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_OBJ = $(LIB_SRC:%.c=build-fuzz/obj/%.o) build-fuzz/obj/gen/wasi_bind.o \
           $(FUZZ_LLHTTP)
build-fuzz/obj/gen/wasi_bind.o: $(OUT)/gen/wasi_bind.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_LIB_FLAGS) -c $< -o $@
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_LIB_FLAGS) -MMD -MP -c $< -o $@
# clang -O1 with ASan+UBSan+coverage spends tens of minutes on the
# interpreter's single huge dispatch function; -O0 builds it in seconds.
build-fuzz/obj/src/engine/interp.o: FUZZ_LIB_FLAGS += -O0
build-fuzz/libkumo-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
build-fuzz/%: fuzz/%.c build-fuzz/libkumo-fuzz.a
	clang $(FUZZ_FLAGS) -o $@ $< build-fuzz/libkumo-fuzz.a $(LIBS)

-include $(FUZZ_OBJ:.o=.d)

fuzz: $(FUZZ_BIN)

fuzz-replay: $(FUZZ_BIN)
	@for b in $(FUZZ_BIN); do n=$${b#build-fuzz/fuzz_}; \
	  echo "fuzz-replay: $$n"; \
	  $$b -runs=0 fuzz/corpus/$$n >/dev/null 2>build-fuzz/$$n.log || \
	  { tail -30 build-fuzz/$$n.log; exit 1; }; \
	  tail -1 build-fuzz/$$n.log; done

clean:
	rm -rf build build-asan build-clang build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) \
    $(WITGEN_OBJ:.o=.d) $(UNIT_GEN_OBJ:.o=.d)

# Benchmarks (bench/run.sh): each bench/programs/*.c natively (gcc -O2) and
# under Kumo (clang --target=wasm32-wasi), medians, ratios, geometric mean.
# BENCH_QUICK=1 for a smoke run; prints numbers, never fails on them.
BENCH_CC ?= gcc
bench: $(OUT)/libkumo.a
	CC=$(BENCH_CC) bench/run.sh $(OUT)

# Instantiation benchmark (bench/inst/inst.c): decode once, then instantiate
# + call a trivial export + tear down, directly and through a pool, for a
# small module and one with a 14 MB data image; medians in microseconds.
# bench/inst/cinst.c: the same for the shared components, with
# kumo_component_instantiate and with a pre-instantiation (kumo_cpre).
bench-inst: $(OUT)/libkumo.a
	@mkdir -p $(OUT)/bench
	$(CC) $(WARN) $(DEFS) $(INCS) -O2 -o $(OUT)/bench/inst bench/inst/inst.c \
	    $(OUT)/libkumo.a $(LIBS)
	$(OUT)/bench/inst
	$(CC) $(WARN) $(DEFS) $(INCS) -O2 -o $(OUT)/bench/cinst bench/inst/cinst.c \
	    $(OUT)/libkumo.a $(LIBS)
	$(OUT)/bench/cinst $(SHARED)

# HTTP benchmark (bench/http/run.sh): wrk on loopback against nginx (the
# ceiling) and `kumo serve` with the shared C and JS components, fresh and
# warm, and jco serve when present; medians printed, never asserted.
bench-http: $(OUT)/kumo
	bench/http/run.sh $(OUT)/kumo $(SHARED)

# Fiber switch benchmark (bench/fiber/run.sh): switches/s and kx_wait
# round trips/s of two fibers, and `kumo run` of a guest reading a pipe
# one byte at a time, with the x86-64 switch against a ucontext build of
# the same sources; medians and ratios printed, never asserted.
bench-fiber: $(OUT)/kumo $(OUT)/libkumo.a
	CC="$(CC)" KUMO_CFLAGS="$(CFLAGS_ALL)" LIBS="$(LIBS)" \
	    CLI_LIBS="$(CLI_LIBS)" bench/fiber/run.sh $(OUT)
