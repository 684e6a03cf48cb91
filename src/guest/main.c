/*
 * kanri-guestd: reads this machine's figures every interval and pushes them
 * to kanrid as JSON over HTTP, spooling to disk while kanrid is away.
 * One process, one thread, libc only.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "doc.h"
#include "fsutil.h"
#include "http.h"
#include "identity.h"
#include "netio.h"
#include "sample.h"
#include "spool.h"

#define EXIT_USAGE 2

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Under systemd (JOURNAL_STREAM set) a "<N>" prefix gives each line its
 * syslog priority; on a terminal it would only be noise. */
static void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(int prio, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (getenv("JOURNAL_STREAM"))
        fprintf(stderr, "<%d>%s\n", prio, line);
    else
        fprintf(stderr, "kanri-guestd: %s\n", line);
}

#define LOG_ERR     3
#define LOG_WARNING 4
#define LOG_NOTICE  5
#define LOG_INFO    6

static void usage(FILE *f)
{
    fprintf(f, "Usage: kanri-guestd [OPTION]...\n"
               "Push this machine's resource figures to kanrid.\n"
               "\n"
               "  -c, --config FILE      configuration file (default " CONF_DEFAULT_PATH ")\n"
               "  -u, --url URL          kanrid ingest URL (https://host:8470/api/v1/ingest/guest)\n"
               "  -p, --pin PIN          kanrid's public key pin (sha256//..., as kanrid logs it)\n"
               "  -t, --token-file FILE  file holding the bearer token\n"
               "  -i, --interval SECS    seconds between samples (default 10)\n"
               "  -s, --state-dir DIR    state and spool directory (default " CONF_DEFAULT_STATE_DIR
               ")\n"
               "  -r, --root DIR         read /proc and /sys under DIR (default /)\n"
               "  -1, --once             print one document to stdout and exit (the machine id\n"
               "                         in it is the one the daemon uses: kept in the state\n"
               "                         directory when generated)\n"
               "      --identity         print the machine id to enrol and exit\n"
               "      --bench N          take N samples without sending; report CPU per sample\n"
               "  -h, --help             show this help\n"
               "  -V, --version          show the version\n");
}

/*
 * Under systemd the unit grants CAP_DAC_READ_SEARCH only so that the
 * root-only SMBIOS UUID can be read at start; nothing later needs it, so
 * all capabilities go once the identity is known.
 */
static void drop_capabilities(void)
{
    if (geteuid() == 0)
        return; /* root keeps its files; capabilities are not the concern */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (syscall(SYS_capset, &hdr, data) < 0)
        log_msg(LOG_WARNING, "cannot drop capabilities: %s", strerror(errno));
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

struct agent {
    struct guestd_conf conf;
    struct http_url url;
    struct sampler sampler;
    struct sample *sample;
    struct identity id;
    struct seqgen seq;
    struct spool spool;
    struct gbuf doc, send;
    int64_t next_try_ms;
    unsigned failures;
    bool down;
    bool drop_logged; /* once per outage: the count goes into the documents */
};

extern char **environ;

/* identity_load() with PID 1's and our own environment; says what was
 * wrong with KANRI_CONTAINER_UUID, and tells the sampler about a container
 * (which changes what its cgroup block describes). */
static int load_identity(struct agent *a, const char *state_dir)
{
    int r = identity_load(a->conf.root, environ, state_dir, &a->id);
    if (a->id.message[0])
        log_msg(LOG_ERR, "%s", a->id.message);
    a->sampler.in_container = a->id.in_container;
    return r;
}

static int render(struct agent *a, uint64_t seq, struct timespec *ret_time)
{
    clock_gettime(CLOCK_REALTIME, ret_time);
    sampler_read(&a->sampler, a->sample);
    struct doc_meta m = {
        .machine_id = a->id.uuid,
        .id_source = id_source_name(a->id.source),
        .seq = seq,
        .time = *ret_time,
        .interval = a->conf.interval,
        .backlog = spool_count(&a->spool),
        .dropped = a->spool.dropped,
    };
    gbuf_reset(&a->doc);
    return doc_render(&a->doc, a->sample, &m);
}

/* Sends one document; updates the up/down state and the retry time. */
static enum push_outcome push(struct agent *a, const char *body, size_t len)
{
    char err[256] = "";
    int st =
        http_post(&a->url, &a->conf.pins, a->conf.token, body, len, (int)a->conf.timeout * 1000, err,
                  sizeof(err));
    enum push_outcome o = http_classify(st);
    if (o == PUSH_OK || o == PUSH_REJECTED) {
        if (a->down)
            log_msg(LOG_NOTICE,
                    "kanrid reachable again; %zu spooled documents to send, %llu dropped",
                    spool_count(&a->spool), (unsigned long long)a->spool.dropped);
        a->down = false;
        a->drop_logged = false;
        a->failures = 0;
        a->next_try_ms = 0;
        return o;
    }
    /* Retry at the next tick at first, then back off exponentially (to a
     * minute for failures, five for 429) so a struggling kanrid is not
     * hammered by every guest at once. */
    unsigned cap = o == PUSH_BACKOFF ? 300 : 60;
    unsigned delay = o == PUSH_BACKOFF ? 2 * a->conf.interval : a->conf.interval;
    for (unsigned i = 0; i < a->failures && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap < a->conf.interval ? a->conf.interval : cap;
    a->failures++;
    a->next_try_ms = mono_ms() + (int64_t)delay * 1000 - 500;
    if (!a->down) {
        if (st > 0)
            log_msg(LOG_WARNING, "kanrid answered %d; spooling to %s", st, a->spool.dir);
        else
            log_msg(LOG_WARNING, "kanrid unreachable (%s); spooling to %s", err, a->spool.dir);
    }
    a->down = true;
    return o;
}

/* Sends spooled documents oldest first until the queue is empty, a push
 * fails, or the next sample is due. */
static void drain(struct agent *a, int64_t deadline_ms)
{
    while (spool_count(&a->spool) > 0 && !stop_requested) {
        int64_t now = mono_ms();
        if (now >= deadline_ms || now < a->next_try_ms)
            return;
        struct spool_entry e;
        if (spool_read_oldest(&a->spool, &a->doc, &e) < 0)
            continue;
        uint64_t dropped = a->spool.dropped;
        gbuf_reset(&a->send);
        doc_patch_spool(a->doc.data, a->doc.len, spool_count(&a->spool) - 1, dropped, &a->send);
        enum push_outcome o = push(a, a->send.data, a->send.len);
        if (o == PUSH_OK) {
            spool_remove_oldest(&a->spool);
            spool_ack_dropped(&a->spool, dropped);
        } else if (o == PUSH_REJECTED) {
            log_msg(LOG_ERR, "kanrid rejected spooled document seq %llu; kept in %s/rejected",
                    (unsigned long long)e.seq, a->spool.dir);
            spool_reject_oldest(&a->spool);
        } else {
            return;
        }
    }
}

static void tick(struct agent *a, int64_t deadline_ms)
{
    uint64_t seq;
    int r = seqgen_next(&a->seq, &seq);
    if (r < 0) {
        static bool warned;
        if (!warned)
            log_msg(LOG_WARNING, "cannot save the sequence number in %s: %s", a->seq.path,
                    strerror(-r));
        warned = true;
        seq = a->seq.next++;
    }
    struct timespec now;
    if (render(a, seq, &now) < 0) {
        log_msg(LOG_ERR, "document seq %llu too large; dropped", (unsigned long long)seq);
        spool_count_dropped(&a->spool, 1);
        return;
    }
    bool direct = spool_count(&a->spool) == 0 && mono_ms() >= a->next_try_ms;
    if (direct) {
        uint64_t dropped = a->spool.dropped;
        enum push_outcome o = push(a, a->doc.data, a->doc.len);
        if (o == PUSH_OK) {
            spool_ack_dropped(&a->spool, dropped);
        } else if (o == PUSH_REJECTED) {
            log_msg(LOG_ERR, "kanrid rejected document seq %llu; kept in %s/rejected",
                    (unsigned long long)seq, a->spool.dir);
            spool_save_rejected(&a->spool, seq, now.tv_sec, a->doc.data, a->doc.len);
        } else {
            direct = false;
        }
    }
    if (!direct) {
        r = spool_add(&a->spool, seq, now.tv_sec, a->doc.data, a->doc.len);
        if (r < 0)
            log_msg(LOG_ERR, "cannot spool document seq %llu: %s", (unsigned long long)seq,
                    strerror(-r));
    }
    unsigned dropped = spool_enforce(&a->spool, now.tv_sec);
    if (dropped && !a->drop_logged) {
        log_msg(LOG_WARNING, "spool bound reached: dropping the oldest documents (%s)",
                "counted in spool.dropped");
        a->drop_logged = true;
    }
    drain(a, deadline_ms);
    gbuf_trim(&a->doc, 1 << 20);
}

static int run_daemon(struct agent *a)
{
    char err[512];
    if (http_url_parse(a->conf.url, &a->url, err, sizeof(err)) < 0) {
        log_msg(LOG_ERR, "url: %s", err);
        return EXIT_USAGE;
    }
    int r = ensure_dir(a->conf.state_dir, 0750);
    if (r < 0) {
        log_msg(LOG_ERR, "state_dir %s: %s", a->conf.state_dir, strerror(-r));
        return 1;
    }
    r = load_identity(a, a->conf.state_dir);
    if (r < 0) {
        log_msg(LOG_ERR, "cannot store machine-id in %s: %s", a->conf.state_dir, strerror(-r));
        return 1;
    }
    drop_capabilities();
    r = seqgen_open(&a->seq, a->conf.state_dir);
    if (r < 0) {
        log_msg(LOG_ERR, "%s/seq: %s", a->conf.state_dir, strerror(-r));
        return 1;
    }
    char spooldir[4200];
    snprintf(spooldir, sizeof(spooldir), "%s/spool", a->conf.state_dir);
    struct spool_limits lim = {
        .max_age = a->conf.spool_max_age,
        .max_bytes = a->conf.spool_max_bytes,
        .max_count = a->conf.spool_max_count,
        .max_rejected = 100,
    };
    r = spool_open(&a->spool, spooldir, &lim);
    if (r < 0) {
        log_msg(LOG_ERR, "spool %s: %s", spooldir, strerror(-r));
        return 1;
    }
    log_msg(LOG_INFO, "started: machine %s (%s), every %us to %s, %zu spooled", a->id.uuid,
            id_source_name(a->id.source), a->conf.interval, a->conf.url, spool_count(&a->spool));

    int64_t next = mono_ms();
    while (!stop_requested) {
        int64_t due = next + (int64_t)a->conf.interval * 1000;
        tick(a, due - 200);
        next = due;
        int64_t now = mono_ms();
        if (now >= next) {
            /* Fell behind (a slow push): skip the missed ticks instead of
             * sampling in a burst. */
            next = now;
            continue;
        }
        struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
        while (!stop_requested &&
               clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    log_msg(LOG_INFO, "stopping; %zu documents spooled", spool_count(&a->spool));
    spool_close(&a->spool);
    return 0;
}

/*
 * The identity the daemon will use, for --once and --identity: the
 * container's, SMBIOS's, or the generated one kept in the state directory (made now if need be, as
 * the daemon would).  Returns 0; 1 after saying why when it is a generated
 * identity that cannot be kept (a throw-away one is loaded); -1 when there
 * is none.
 */
static int load_kept_identity(struct agent *a)
{
    int r = ensure_dir(a->conf.state_dir, 0750);
    if (r == 0)
        r = load_identity(a, a->conf.state_dir);
    if (r == 0)
        return 0;
    int why = -r;
    if (load_identity(a, NULL) < 0) {
        log_msg(LOG_ERR, "cannot make a machine id");
        return -1;
    }
    if (a->id.source != ID_SOURCE_GENERATED)
        return 0;
    log_msg(LOG_WARNING,
            "machine id %s is not kept (state_dir %s: %s): the daemon will use another; "
            "run as the daemon's user or give --state-dir",
            a->id.uuid, a->conf.state_dir, strerror(why));
    return 1;
}

static int run_once(struct agent *a)
{
    if (load_kept_identity(a) < 0)
        return 1;
    struct timespec now;
    if (render(a, 0, &now) < 0) {
        log_msg(LOG_ERR, "document too large");
        return 1;
    }
    if (fwrite(a->doc.data, 1, a->doc.len, stdout) != a->doc.len || fflush(stdout) != 0) {
        log_msg(LOG_ERR, "cannot write to stdout: %s", strerror(errno));
        return 1;
    }
    return 0;
}

/* --identity: the machine id to enrol (kanri agent enroll UUID). */
static int run_identity(struct agent *a)
{
    if (load_kept_identity(a) != 0)
        return 1;
    printf("%s\n", a->id.uuid);
    fprintf(stderr, "kanri-guestd: machine id from %s; enrol it with: kanri agent enroll %s\n",
            id_source_name(a->id.source), a->id.uuid);
    return fflush(stdout) == 0 ? 0 : 1;
}

static double tv_sec(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int run_bench(struct agent *a, unsigned long n)
{
    if (load_identity(a, NULL) < 0)
        return 1;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    size_t bytes = 0;
    struct timespec now;
    for (unsigned long i = 0; i < n; i++) {
        render(a, i + 1, &now);
        bytes += a->doc.len;
    }
    getrusage(RUSAGE_SELF, &r1);
    double user = tv_sec(r1.ru_utime) - tv_sec(r0.ru_utime);
    double sys = tv_sec(r1.ru_stime) - tv_sec(r0.ru_stime);
    printf("samples %lu\ncpu_us_per_sample %.1f\nuser_us_per_sample %.1f\n"
           "sys_us_per_sample %.1f\nbytes_per_document %zu\nmaxrss_kib %ld\n",
           n, (user + sys) * 1e6 / (double)n, user * 1e6 / (double)n, sys * 1e6 / (double)n,
           n ? bytes / n : 0, r1.ru_maxrss);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"url", required_argument, NULL, 'u'},
        {"pin", required_argument, NULL, 'p'},
        {"token-file", required_argument, NULL, 't'},
        {"interval", required_argument, NULL, 'i'},
        {"state-dir", required_argument, NULL, 's'},
        {"root", required_argument, NULL, 'r'},
        {"once", no_argument, NULL, '1'},
        {"identity", no_argument, NULL, 'I'},
        {"bench", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    static struct agent agent;
    struct agent *a = &agent;
    const char *config = NULL;
    bool once = false, identity = false;
    unsigned long bench = 0;
    struct {
        const char *key, *value;
    } overrides[16];
    int n_over = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:u:p:t:i:s:r:1hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'u':
        case 'p':
        case 't':
        case 'i':
        case 's':
        case 'r':
            if (n_over < 16) {
                overrides[n_over].key = c == 'u'   ? "url"
                                        : c == 'p' ? "server_pin"
                                        : c == 't' ? "token_file"
                                        : c == 'i' ? "interval"
                                        : c == 's' ? "state_dir"
                                                   : "root";
                overrides[n_over++].value = optarg;
            }
            break;
        case '1':
            once = true;
            break;
        case 'I':
            identity = true;
            break;
        case 'B': {
            char *end;
            errno = 0;
            bench = strtoul(optarg, &end, 10);
            if (errno || *end || bench == 0 || bench > 10000000) {
                fprintf(stderr, "kanri-guestd: --bench: expected a count from 1 to 10000000\n");
                return EXIT_USAGE;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("kanri-guestd %s\n", KANRI_GUESTD_VERSION);
            return 0;
        case ':':
            fprintf(stderr, "kanri-guestd: option %s needs a value\n", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            fprintf(stderr, "kanri-guestd: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kanri-guestd: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }

    char err[1024];
    conf_defaults(&a->conf);
    int r = conf_parse_file(&a->conf, config ? config : CONF_DEFAULT_PATH, err, sizeof(err));
    if (r < 0 && !(r == -ENOENT && !config)) {
        fprintf(stderr, "kanri-guestd: %s\n", err);
        return EXIT_USAGE;
    }
    for (int i = 0; i < n_over; i++) {
        if (conf_set(&a->conf, overrides[i].key, overrides[i].value, err, sizeof(err)) < 0) {
            fprintf(stderr, "kanri-guestd: --%s\n", err);
            return EXIT_USAGE;
        }
    }
    if (conf_finish(&a->conf, !once && !bench && !identity, err, sizeof(err)) < 0) {
        fprintf(stderr, "kanri-guestd: %s\n", err);
        return EXIT_USAGE;
    }
    if (sampler_init(&a->sampler, a->conf.root) < 0) {
        fprintf(stderr, "kanri-guestd: root: path too long\n");
        return EXIT_USAGE;
    }
    a->sample = calloc(1, sizeof(*a->sample));
    if (!a->sample) {
        fprintf(stderr, "kanri-guestd: out of memory\n");
        return 1;
    }
    /* Bounded like kanrid's ingest limit (256 KiB) with room to spare: a
     * document that large is refused there anyway. */
    gbuf_init(&a->doc, 1 << 20);
    gbuf_init(&a->send, 1 << 20);

    if (identity)
        return run_identity(a);
    if (bench)
        return run_bench(a, bench);
    if (once)
        return run_once(a);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return run_daemon(a);
}
