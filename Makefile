# Makefile - the front door; Meson and Ninja do the work.
#
#	make			build into build/
#	make run		start an instance in ./run/ in the foreground
#	make test		unit + integration tests, normal and ASan/UBSan,
#				and a short run of every fuzz target
#	make test-fast		the same, normal build only
#	make install PREFIX=/usr/local [DESTDIR=...]
#				(builds in build-install/, configured
#				with that prefix)
#	make bench		benchmarks (not timed tests)
#	make clean

PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
BUILD ?= build
ASAN_BUILD ?= build-asan
INSTALL_BUILD ?= build-install
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS = attr mastercf maincf pattern rec addr_list smtp_syntax haproxy smtpd_cmd smtpd_policy
FUZZ_RUNS ?= 50000
PYTEST = $(PYTHON) -m pytest -q -p no:cacheprovider

.PHONY: all deps build run test test-fast test-asan fuzz-smoke install \
	bench clean format

all: build

# Installs missing Debian packages; quiet and quick when all are present.
deps:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	@scripts/bootstrap
	meson setup $(BUILD) --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	scripts/run-instance $(BUILD)

test: test-fast test-asan fuzz-smoke

test-fast: build
	meson test -C $(BUILD) --suite unit --print-errorlogs
	PETREL_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) tests/integration

$(ASAN_BUILD)/build.ninja:
	@scripts/bootstrap
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dc_args=-fno-sanitize-recover=all

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs
	PETREL_BUILD=$(CURDIR)/$(ASAN_BUILD) PETREL_SANITIZED=1 \
	    $(PYTEST) tests/integration

$(FUZZ_BUILD)/build.ninja:
	@scripts/bootstrap
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true

# Each fuzz target over its seed corpus plus FUZZ_RUNS random inputs; new
# inputs go to a scratch directory, never into the source tree.
fuzz-smoke: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(FUZZ_TARGETS:%=tests/fuzz/fuzz_%)
	@set -e; scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		mkdir -p "$$scratch/$$t"; \
		echo "fuzz_$$t: $(FUZZ_RUNS) runs"; \
		$(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -runs=$(FUZZ_RUNS) \
		    -artifact_prefix=$(FUZZ_BUILD)/ "$$scratch/$$t" \
		    tests/fuzz/corpus/$$t 2>"$$scratch/$$t.log" || \
		{ tail -40 "$$scratch/$$t.log"; exit 1; }; \
	done

# Its own build directory: the compiled-in paths (DEF_CONFIG_DIR, ...)
# follow the prefix, and those of the development build/ must not change.
$(INSTALL_BUILD)/build.ninja:
	@scripts/bootstrap
	meson setup $(INSTALL_BUILD) --prefix=$(PREFIX)

install: deps $(INSTALL_BUILD)/build.ninja
	meson configure $(INSTALL_BUILD) --prefix=$(PREFIX)
	ninja -C $(INSTALL_BUILD)
	meson install -C $(INSTALL_BUILD) --no-rebuild \
	    $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

bench: build
	@if [ -x bench/run ]; then bench/run $(BUILD); \
	else echo "no benchmarks yet"; fi

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(INSTALL_BUILD)
