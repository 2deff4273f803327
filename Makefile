# Makefile - the front door; Meson and Ninja do the work.
#
#	make			build into build/
#	make run		start an instance in ./run/ in the foreground
#	make test		unit + integration tests, normal and ASan/UBSan
#	make test-fast		the same, normal build only
#	make install PREFIX=/usr/local [DESTDIR=...]
#	make bench		benchmarks (not timed tests)
#	make clean

PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
BUILD ?= build
ASAN_BUILD ?= build-asan
PYTEST = $(PYTHON) -m pytest -q -p no:cacheprovider

.PHONY: all deps build run test test-fast test-asan install bench clean \
	format

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

test: test-fast test-asan

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

install: build
	meson configure $(BUILD) --prefix=$(PREFIX)
	ninja -C $(BUILD)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

bench: build
	@if [ -x bench/run ]; then bench/run $(BUILD); \
	else echo "no benchmarks yet"; fi

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
