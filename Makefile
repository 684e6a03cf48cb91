# kanri — thin wrapper around Meson.  Two entry points for a new user:
#   make run     build and start kanrid on its embedded default
#   make check   build and run every test suite, then check-sanitize
# Both install missing Debian packages first when run as root.

BUILD    ?= build
PYTHON   ?= /usr/bin/python3
STATE    ?=
ARGS     ?=

# Build dependencies (Debian package names).
BUILD_PKGS = meson ninja-build pkg-config gcc libc6-dev libvirt-dev libglib2.0-dev \
             libjson-c-dev libmicrohttpd-dev zlib1g-dev libgnutls28-dev libbearssl-dev libcurl4-gnutls-dev libsqlite3-dev libpq-dev libcmocka-dev \
             lxc-dev python3 genisoimage
# What the test suites need on top: a real libvirt daemon and QEMU for the
# lab guests, pytest for the end-to-end tests, openssl for the CLI's TLS test
# certificates, Chromium for the browser tests (Playwright drives Debian's
# build; it cannot download its own here), PostgreSQL 15 for the store's
# second backend (a throw-away server of the tests' own: tools/pg-server.sh),
# Prometheus and promtool for the /metrics and rules tests, systemd's tools
# (systemd-analyze, journald) for the unit and journal tests.
TEST_PKGS  = python3-pytest libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients \
             qemu-system-x86 qemu-utils qemu-guest-agent busybox-static cpio e2fsprogs \
             socat sqlite3 kmod xz-utils zstd musl-tools openssl chromium lxc \
             postgresql-15 prometheus systemd python3-yaml zsh

# The sanitizer runtimes (gcc's; libgcc-12-dev pulls them in already).
SAN_PKGS   = libasan8 libubsan1 liblsan0 libtsan2

.PHONY: deb check-deb all build deps web-deps node-pkgs test-deps lab-kernel san-deps run check unit integration lab browser clean fuzz \
        check-sanitize check-asan check-tsan-unit check-tsan pg-stop integration-pg

all: build

# Installs only what is missing, and only as root (others get a hint).
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "Installing: $$missing"; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        for i in 1 2 3 4; do \
	            apt-get install -y -q $$missing >/dev/null 2>&1 && break; \
	            [ $$i = 4 ] && { apt-get install -y -q $$missing; exit 1; }; \
	            echo "apt-get install failed; updating the lists, again in 20 s"; \
	            sleep 20; apt-get update -q >/dev/null 2>&1 || true; \
	        done; \
	    else \
	        echo "Missing Debian packages: $$missing (run as root, or: sudo apt-get install $$missing)"; \
	        exit 1; \
	    fi; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PKGS))

# The web dashboard's build tools (esbuild, uPlot) and browser-test tools
# (playwright-core, axe-core), from the npm registry at the versions of
# src/web/package-lock.json, into src/web/node_modules.  The machine's own
# node and npm are used when present; Debian's nodejs and npm are installed
# only where there is no node at all (they conflict with a node from
# elsewhere).
WEB_DIR = src/web
web-deps:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	    $(MAKE) --no-print-directory node-pkgs; fi
	@if [ ! -f $(WEB_DIR)/node_modules/.package-lock.json ] || \
	    [ $(WEB_DIR)/package-lock.json -nt $(WEB_DIR)/node_modules/.package-lock.json ]; then \
	    cd $(WEB_DIR) && for i in 1 2 3 4 5; do \
	        echo "npm ci in $(WEB_DIR) (attempt $$i of 5)"; \
	        npm ci --prefer-offline --no-audit --no-fund --loglevel=error && exit 0; \
	        [ $$i = 5 ] || sleep 30; \
	    done; exit 1; \
	fi

node-pkgs:
	$(call install_missing,nodejs npm)

test-deps: deps
	$(call install_missing,$(TEST_PKGS))

# The Makefile's builds always bundle the dashboard (web-deps provides
# what it needs); a bare `meson setup` bundles it when it can.
$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dweb_ui=enabled

build: deps web-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Starts kanrid in the foreground on SQLite under the state directory
# (/var/lib/kanri as root) and the local hypervisor.  It prints the URL and
# where the admin token is.
run: build
	$(BUILD)/src/daemon/kanrid $(if $(STATE),--state-dir $(STATE)) $(ARGS)

# The tests' PostgreSQL server, under the build directory, started (once)
# by the suites that use it; its connection string in KANRI_TEST_PG, which
# makes a PostgreSQL test fail rather than skip when absent.
PG_DIR = $(abspath $(BUILD))/pg
PG_ENV = KANRI_TEST_PG="$$(bash tools/pg-server.sh start $(PG_DIR))" KANRI_TEST_PG_REQUIRED=1

pg-stop:
	bash tools/pg-server.sh stop $(PG_DIR)

unit: test-deps build
	$(PG_ENV) meson test -C $(BUILD) --print-errorlogs

integration: build
	KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration

# The end-to-end suite again with every kanrid's store on the tests'
# PostgreSQL server (each in a schema of its own; kanri_harness.py).
integration-pg: test-deps build
	KANRI_TEST_STORE_PG="$$(bash tools/pg-server.sh start $(PG_DIR))" \
	    KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -rs tests/integration

# The lab guest's kernel package, the one download the tests need beyond
# packages, made right after installing them (retried: name servers here
# have stopped answering for minutes).  With KANRI_LAB_OFFLINE_OK=1 a
# failed download is a warning and the lab tests are skipped, saying so.
lab-kernel: test-deps
	@bash tests/lab/build-guest.sh --fetch || { rc=$$?; \
	    if [ $$rc = 3 ] && [ "$${KANRI_LAB_OFFLINE_OK:-}" = 1 ]; then \
	        echo "WARNING: no lab guest kernel (download failed): the lab tests will be skipped"; \
	    else exit $$rc; fi; }

lab: lab-kernel build
	bash tests/lab/setup-host.sh
	KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/lab

browser: test-deps build
	KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/browser

# In check, a test whose tool is missing fails instead of skipping
# (required_tool() in tests/integration/kanri_harness.py).
check: export KANRI_TEST_TOOLS_REQUIRED = 1
check: test-deps lab-kernel build
	bash tests/lab/setup-host.sh
	$(PG_ENV) meson test -C $(BUILD) --print-errorlogs
	$(PG_ENV) KANRI_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -v -rs \
	    tests/integration tests/browser tests/lab
	$(MAKE) --no-print-directory integration-pg
	$(MAKE) --no-print-directory check-sanitize
	bash tools/pg-server.sh stop $(PG_DIR)
	$(MAKE) --no-print-directory check-deb

# ---- Debian packages (docs/install.md) ----
# make deb: the packages kanri and kanri-guestd from debian/ with
# dpkg-buildpackage, into $(BUILD)/deb.  check-deb: lintian on them, then
# installed into a clean Debian root made by mmdebstrap from this
# machine's Debian mirror, checked, started and removed again
# (tests/package/check-deb.sh).
DEB_PKGS = debhelper dpkg-dev fakeroot lintian mmdebstrap
DEB_DIR  = $(abspath $(BUILD))/deb

deb: deps web-deps
	$(call install_missing,$(DEB_PKGS))
	dpkg-buildpackage -b -us -uc
	@v=$$(dpkg-parsechangelog -S Version); mkdir -p $(DEB_DIR); \
	    mv ../kanri_$${v}_*.changes ../kanri_$${v}_*.buildinfo ../kanri*_$${v}_*.deb $(DEB_DIR)/; \
	    ls -l $(DEB_DIR)

check-deb: deb
	bash tests/package/check-deb.sh $(DEB_DIR)

# ---- sanitizers (docs/testing.md) ----
# check-sanitize: the unit, end-to-end and lab suites against an
# AddressSanitizer + UndefinedBehaviorSanitizer build (leak detection on),
# and the unit suites against a ThreadSanitizer build.  check-tsan adds the
# end-to-end suite under ThreadSanitizer (slower, not part of check).
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
SAN_DIR     = $(abspath tests/sanitizers)
# Every report ends the process with SIGABRT after its stack trace (the
# harness also finds the report in stderr, so a test fails even when it
# expected a non-zero exit).  intercept_strstr=0: the strstr interceptor
# measures the whole haystack on every call, which makes g_strsplit()
# quadratic (tests/unit/daemon's 1 MiB configuration: minutes, not 1 s).
# G_SLICE=always-malloc: GLib 2.74's slice allocator would recycle list and
# hash table nodes behind the sanitizers' backs.
ASAN_ENV = G_SLICE=always-malloc \
	ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:intercept_strstr=0 \
	LSAN_OPTIONS=suppressions=$(SAN_DIR)/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
# TSan goes on after a report, to show every race of the run, and then
# exits 66.
TSAN_OPTS = halt_on_error=0:second_deadlock_stack=1:intercept_strstr=0
TSAN_ENV  = G_SLICE=always-malloc TSAN_OPTIONS=$(TSAN_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dweb_ui=enabled -Db_sanitize=address,undefined -Db_lundef=false

$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) -Dweb_ui=enabled -Db_sanitize=thread -Db_lundef=false

san-deps: test-deps
	$(call install_missing,$(SAN_PKGS))

check-sanitize: check-asan check-tsan-unit

check-asan: san-deps web-deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	$(ASAN_ENV) $(PG_ENV) meson test -C $(ASAN_BUILD) --print-errorlogs --timeout-multiplier 3
	$(ASAN_ENV) $(PG_ENV) KANRI_BUILD_DIR=$(abspath $(ASAN_BUILD)) $(PYTHON) -m pytest -q -rs \
	    tests/integration tests/browser tests/lab

check-tsan-unit: san-deps web-deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)
	$(TSAN_ENV) $(PG_ENV) meson test -C $(TSAN_BUILD) --print-errorlogs --timeout-multiplier 3

# The end-to-end suite under ThreadSanitizer.  kanrid runs GLib's main
# loop, libvirt and libxml2, none of them instrumented: what they do
# through libc (malloc/free, memcpy, poll, ...) is ignored
# (ignore_noninstrumented_modules=1), or their own unseen locking floods
# the run with reports no suppression can tell from kanri's
# (docs/testing.md).  Their pthread locking still counts.
check-tsan: check-tsan-unit
	G_SLICE=always-malloc TSAN_OPTIONS=$(TSAN_OPTS):ignore_noninstrumented_modules=1 \
	    KANRI_BUILD_DIR=$(abspath $(TSAN_BUILD)) $(PYTHON) -m pytest -q tests/integration

# Runs every fuzz target under libFuzzer (clang, ASan, UBSan) for
# FUZZ_SECONDS each, or FUZZ_RUNS executions each when set, starting from
# the committed corpora; new inputs go to build-fuzz/corpus-TARGET (merge
# the useful ones into fuzz/corpus/TARGET with -merge=1).  The last line of
# each target's log says how many executions it made.
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 65536
FUZZ_TARGETS = conf apibody json domxml guestdoc reconcile_input qga
FUZZ_LIMIT = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
fuzz: deps
	$(call install_missing,clang libclang-rt-14-dev)
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
	ninja -C build-fuzz $(addprefix fuzz/fuzz-,$(FUZZ_TARGETS))
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus-$$t && \
	    build-fuzz/fuzz/fuzz-$$t $(FUZZ_LIMIT) -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 \
	        build-fuzz/corpus-$$t fuzz/corpus/$$t 2>build-fuzz/fuzz-$$t.log || \
	        { tail -50 build-fuzz/fuzz-$$t.log; exit 1; }; \
	    grep -E '^stat::number_of_executed_units' build-fuzz/fuzz-$$t.log | sed "s/^/$$t: /"; \
	done

clean:
	-bash tools/pg-server.sh wipe $(PG_DIR)
	rm -rf $(BUILD) build-fuzz $(ASAN_BUILD) $(TSAN_BUILD)
