# kanri — thin wrapper around Meson.  Two entry points for a new user:
#   make run     build and start kanrid on its embedded default
#   make check   build and run every test suite
# Both install missing Debian packages first when run as root.

BUILD    ?= build
PYTHON   ?= /usr/bin/python3
STATE    ?=
ARGS     ?=

# Build dependencies (Debian package names).
BUILD_PKGS = meson ninja-build pkg-config gcc libc6-dev libvirt-dev libglib2.0-dev \
             libjson-c-dev libmicrohttpd-dev libcurl4-gnutls-dev libsqlite3-dev libcmocka-dev \
             python3
# What the test suites need on top: a real libvirt daemon and QEMU for the
# lab guests, pytest for the end-to-end tests, openssl for the CLI's TLS test
# certificates.
TEST_PKGS  = python3-pytest libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients \
             qemu-system-x86 qemu-utils qemu-guest-agent busybox-static cpio e2fsprogs \
             socat sqlite3 kmod xz-utils zstd musl-tools openssl

.PHONY: all build deps test-deps run check unit integration lab clean fuzz

all: build

# Installs only what is missing, and only as root (others get a hint).
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "Installing: $$missing"; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        apt-get install -y -q $$missing >/dev/null 2>&1 || \
	            { apt-get update -q >/dev/null && apt-get install -y -q $$missing; } || exit 1; \
	    else \
	        echo "Missing Debian packages: $$missing (run as root, or: sudo apt-get install $$missing)"; \
	        exit 1; \
	    fi; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PKGS))

test-deps: deps
	$(call install_missing,$(TEST_PKGS))

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Starts kanrid in the foreground on SQLite under the state directory
# (/var/lib/kanri as root) and the local hypervisor.  It prints the URL and
# where the admin token is.
run: build
	$(BUILD)/src/daemon/kanrid $(if $(STATE),--state-dir $(STATE)) $(ARGS)

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build
	KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration

lab: build
	bash tests/lab/setup-host.sh
	KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/lab

check: test-deps build
	bash tests/lab/setup-host.sh
	meson test -C $(BUILD) --print-errorlogs
	KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -v \
	    tests/integration tests/lab

# Runs every fuzz target under libFuzzer (clang, ASan, UBSan) for
# FUZZ_SECONDS each, starting from the committed corpora.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(call install_missing,clang libclang-rt-14-dev)
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
	ninja -C build-fuzz $(addprefix fuzz/fuzz-,conf apibody json domxml guestdoc reconcile_input)
	for t in conf apibody json domxml guestdoc reconcile_input; do \
	    mkdir -p build-fuzz/corpus-$$t && \
	    build-fuzz/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	        build-fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD) build-fuzz
