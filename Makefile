# errata: the two set-up commands are `make run` and `make test`.
BUILD ?= build
PORT ?= 8000
DATA_DIR ?= ./data
JOBS ?= $(shell nproc)

.PHONY: deps build run test unit e2e sanitize bench bench-smoke bench-scale-out format clean

deps:
	@./scripts/bootstrap.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/errata serve --listen 127.0.0.1:$(PORT) --data-dir $(DATA_DIR)

# Every test: unit (gtest), end-to-end (the real binary over HTTP) and the
# benchmark smoke run.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	$(BUILD)/errata_tests

e2e: build
	cd $(BUILD) && ctest --output-on-failure -L e2e

# AddressSanitizer and UndefinedBehaviorSanitizer: a build of its own in
# build-asan, then the unit and end-to-end tests on it (docs/fuzzing.md). Not
# part of `make test`: on 2 cores the second build alone takes longer than the
# test run's budget. test_open_files is left out: once the process has no
# descriptor left, UBSan's vptr check reports "invalid vptr" on Boost's
# error_category (docs/fuzzing.md); the release and TSan builds pass it.
ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DERRATA_JEMALLOC=OFF \
	  -DCMAKE_CXX_FLAGS="$(ASAN_FLAGS)" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=handle_sigbus=0 ctest --output-on-failure -j 2 --timeout 900 \
	  -E "^(bench|browser)\.|test_open_files"

# One run per embedded store (SQLite, then RocksDB), each with its own W0;
# BENCH_STORE=sqlite or BENCH_STORE=rocksdb runs that store only (the rows'
# command column reproduces each run).
bench: build
ifdef BENCH_STORE
	./bench/run.sh
else
	BENCH_STORE=sqlite ./bench/run.sh
	BENCH_STORE=rocksdb ./bench/run.sh
endif

# SQLite vs PostgreSQL (one node, two behind nginx); see BENCHMARKS.md, "Scale out".
bench-scale-out: build
	./bench/scale_out.sh

clean:
	rm -rf $(BUILD)
