/*
 * test_proxy.c — drives a real qs-proxy child process between a loopback
 * server (a thread here) and a client (the test itself).
 *
 * usage: test_proxy PATH-TO-qs-proxy   (or QS_PROXY=PATH in the environment)
 *
 * Every wait is bounded (poll timeouts, SO_RCVTIMEO, waitpid with a deadline),
 * so a broken proxy fails a test instead of hanging the suite. Timing checks
 * use loose bounds: the lower bounds are what the fault guarantees, the upper
 * bounds only catch "the fault did nothing sensible".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

static const char *proxy_path;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_random(unsigned char *buf, size_t n, uint64_t seed)
{
    uint64_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)(x >> 24);
    }
}

/* ---- loopback server (one thread, one connection at a time) ------------- */

#define SRV_MAX_CONNS 16
#define SRV_KEEP (2u << 20) /* bytes of each connection kept for comparison */

struct srv_read {
    double t;
    size_t cum;
};

struct srv_conn {
    double t_accept;
    size_t received;
    unsigned char *data; /* first SRV_KEEP bytes (sink mode) */
    struct srv_read *reads;
    size_t nreads, capreads;
};

struct server {
    int lfd, port;
    pthread_t th;
    bool echo;
    int delay_ms; /* before reading each connection */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const unsigned char *send; /* sent on accept, before reading */
    size_t send_len;
    int accepted, finished;
    bool stop;
    struct srv_conn conns[SRV_MAX_CONNS];
};

static void srv_record(struct srv_conn *sc, size_t n)
{
    sc->received += n;
    if (sc->nreads == sc->capreads) {
        sc->capreads = sc->capreads ? sc->capreads * 2 : 256;
        sc->reads = realloc(sc->reads, sc->capreads * sizeof *sc->reads);
        if (sc->reads == NULL)
            abort();
    }
    sc->reads[sc->nreads].t = now_s();
    sc->reads[sc->nreads].cum = sc->received;
    sc->nreads++;
}

static bool write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n); /* SIGPIPE is ignored in main */
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void srv_handle(struct server *s, int fd, struct srv_conn *sc)
{
    static unsigned char buf[65536];
    struct timeval tv = {.tv_sec = 15};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&s->mu);
    const unsigned char *send_buf = s->send;
    size_t send_len = s->send_len;
    bool echo = s->echo;
    int delay_ms = s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (send_len > 0)
        write_all(fd, send_buf, send_len);
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (!echo && sc->received < SRV_KEEP) {
            size_t k = SRV_KEEP - sc->received < (size_t)r ? SRV_KEEP - sc->received : (size_t)r;
            memcpy(sc->data + sc->received, buf, k);
        }
        pthread_mutex_lock(&s->mu);
        srv_record(sc, (size_t)r);
        pthread_mutex_unlock(&s->mu);
        if (echo && !write_all(fd, buf, (size_t)r))
            break;
    }
}

static void *srv_main(void *arg)
{
    struct server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        int i = s->accepted < SRV_MAX_CONNS ? s->accepted : SRV_MAX_CONNS - 1;
        s->accepted++;
        struct srv_conn *sc = &s->conns[i];
        sc->t_accept = now_s();
        pthread_mutex_unlock(&s->mu);
        srv_handle(s, fd, sc);
        close(fd);
        pthread_mutex_lock(&s->mu);
        s->finished++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static struct server *server_start(bool echo, const unsigned char *send_buf, size_t send_len)
{
    struct server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->echo = echo;
    s->send = send_buf;
    s->send_len = send_len;
    for (int i = 0; i < SRV_MAX_CONNS; i++) {
        s->conns[i].data = malloc(SRV_KEEP);
        assert_non_null(s->conns[i].data);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
    return s;
}

static void server_set_send(struct server *s, const unsigned char *send_buf, size_t send_len)
{
    pthread_mutex_lock(&s->mu);
    s->send = send_buf;
    s->send_len = send_len;
    pthread_mutex_unlock(&s->mu);
}

/* Wait until n connections are finished; false on timeout. */
static bool server_wait(struct server *s, int n, double timeout)
{
    double end = now_s() + timeout;
    bool ok = true;
    pthread_mutex_lock(&s->mu);
    while (s->finished < n) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (now_s() > end) {
            ok = s->finished >= n;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static int server_accepted(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->accepted;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void server_stop(struct server *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    close(s->lfd);
    for (int i = 0; i < SRV_MAX_CONNS; i++) {
        free(s->conns[i].data);
        free(s->conns[i].reads);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ---- the proxy child ---------------------------------------------------- */

struct proc {
    pid_t pid;
    int ctl_w, ctl_r; /* its stdin, its stdout */
    int port;
    char errpath[64];
};

/* Start qs-proxy --listen 127.0.0.1:0 --target 127.0.0.1:target [--control -]
 * extra...; wait for its "listening on" line and read the port from it. */
static void proxy_start(struct proc *pr, int target, bool stdin_control, const char *const *extra)
{
    char tgt[32];
    const char *argv[40];
    int argc = 0;
    int in[2], out[2];
    snprintf(tgt, sizeof tgt, "127.0.0.1:%d", target);
    argv[argc++] = proxy_path;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--target";
    argv[argc++] = tgt;
    if (stdin_control) {
        argv[argc++] = "--control";
        argv[argc++] = "-";
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && argc < 38; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;

    snprintf(pr->errpath, sizeof pr->errpath, "/tmp/test_proxy.XXXXXX");
    int efd = mkstemp(pr->errpath);
    assert_true(efd >= 0);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(efd, 2);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        close(efd);
        execv(proxy_path, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(efd);
    pr->pid = pid;
    pr->ctl_w = in[1];
    pr->ctl_r = out[0];
    pr->port = 0;

    double end = now_s() + 10;
    while (now_s() < end && pr->port == 0) {
        char buf[4096];
        FILE *f = fopen(pr->errpath, "r");
        if (f != NULL) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = '\0';
            fclose(f);
            const char *l = strstr(buf, "listening on 127.0.0.1:");
            if (l != NULL)
                pr->port = atoi(l + strlen("listening on 127.0.0.1:"));
        }
        if (pr->port == 0) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                pr->pid = 0;
                fail_msg("qs-proxy exited at start (status %d); stderr in %s", st, pr->errpath);
            }
            usleep(10000);
        }
    }
    if (pr->port == 0)
        fail_msg("qs-proxy did not report its port within 10 s; stderr in %s", pr->errpath);
}

static bool stderr_contains(struct proc *pr, const char *needle)
{
    char buf[8192];
    FILE *f = fopen(pr->errpath, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, needle) != NULL;
}

/* Read one line from fd within timeout; the newline is stripped. */
static bool read_line(int fd, char *line, size_t cap, int timeout_ms)
{
    size_t n = 0;
    double end = now_s() + timeout_ms / 1000.0;
    while (n + 1 < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = (int)((end - now_s()) * 1000);
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return false;
        char ch;
        if (read(fd, &ch, 1) != 1)
            return false;
        if (ch == '\n')
            break;
        line[n++] = ch;
    }
    line[n] = '\0';
    return true;
}

/* Send one control line on fd, return its reply in a static buffer. */
static const char *ctl_fd(int wfd, int rfd, const char *fmt, va_list ap)
{
    static char reply[8192];
    char cmd[512];
    int n = vsnprintf(cmd, sizeof cmd - 1, fmt, ap);
    cmd[n++] = '\n';
    assert_true(write_all(wfd, cmd, (size_t)n));
    if (!read_line(rfd, reply, sizeof reply, 5000))
        fail_msg("no reply from qs-proxy to '%.*s' within 5 s", n - 1, cmd);
    return reply;
}

static const char *ctl(struct proc *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *ctl(struct proc *pr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *r = ctl_fd(pr->ctl_w, pr->ctl_r, fmt, ap);
    va_end(ap);
    return r;
}

static void ctl_ok(struct proc *pr, const char *cmd)
{
    const char *r = ctl(pr, "%s", cmd);
    if (strcmp(r, "ok") != 0)
        fail_msg("'%s' -> '%s' (want ok)", cmd, r);
}

/* The value of key=... in a stats line; fails the test if absent. */
static uint64_t stat_of(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    for (const char *p = strstr(line, pat); p != NULL; p = strstr(p + 1, pat)) {
        if (p == line || p[-1] == ' ')
            return strtoull(p + strlen(pat), NULL, 10);
    }
    fail_msg("no %s in '%s'", key, line);
    return 0;
}

/* Wait for the child to exit by itself; return its wait status. */
static int proc_reap(struct proc *pr, double timeout)
{
    int st = -1;
    double end = now_s() + timeout;
    while (now_s() < end) {
        if (waitpid(pr->pid, &st, WNOHANG) == pr->pid) {
            pr->pid = 0;
            close(pr->ctl_w);
            close(pr->ctl_r);
            return st;
        }
        usleep(10000);
    }
    fail_msg("qs-proxy did not exit within %.0f s", timeout);
    return -1;
}

static void assert_clean_exit(struct proc *pr, int st)
{
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("qs-proxy did not exit cleanly (status 0x%x); stderr in %s", st, pr->errpath);
    unlink(pr->errpath);
}

static void proxy_quit(struct proc *pr)
{
    ctl_ok(pr, "quit");
    assert_clean_exit(pr, proc_reap(pr, 10));
}

/* ---- client ------------------------------------------------------------- */

static int client_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

enum end { END_EOF, END_RESET, END_WANT, END_TIMEOUT };

struct xfer {
    size_t sent, got;
    enum end end;
    double t_want; /* when got reached want */
};

/* Send out (then half-close if shut) while reading into in; stop at EOF,
 * error, `want` bytes received (if want > 0) or the timeout. */
static struct xfer xfer(int fd, const void *out, size_t outlen, bool shut, unsigned char *in,
                        size_t incap, size_t want, int timeout_ms)
{
    struct xfer x = {0};
    static unsigned char scratch[65536];
    bool wdone = outlen == 0;
    double end = now_s() + timeout_ms / 1000.0;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (wdone && shut)
        shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (wdone ? 0 : POLLOUT)};
        int left = (int)((end - now_s()) * 1000);
        if (left <= 0) {
            x.end = END_TIMEOUT;
            break;
        }
        if (poll(&pfd, 1, left) <= 0)
            continue;
        if (!wdone && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = send(fd, (const char *)out + x.sent, outlen - x.sent, MSG_NOSIGNAL);
            if (w > 0) {
                x.sent += (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                wdone = true; /* the peer is gone; keep reading what is left */
            }
            if (x.sent == outlen) {
                wdone = true;
                if (shut)
                    shutdown(fd, SHUT_WR);
            }
        }
        if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
            unsigned char *dst = in != NULL && x.got < incap ? in + x.got : scratch;
            size_t room = in != NULL && x.got < incap ? incap - x.got : sizeof scratch;
            if (want > 0 && room > want - x.got)
                room = want - x.got;
            ssize_t r = recv(fd, dst, room, 0);
            if (r == 0) {
                x.end = END_EOF;
                break;
            }
            if (r < 0 && errno != EAGAIN && errno != EINTR) {
                x.end = END_RESET;
                break;
            }
            if (r > 0) {
                x.got += (size_t)r;
                if (want > 0 && x.got >= want) {
                    x.t_want = now_s();
                    x.end = END_WANT;
                    break;
                }
            }
        }
    }
    return x;
}

/* ---- fixtures ----------------------------------------------------------- */

static struct proc g_proc;
static struct server *g_srv;

static int teardown(void **state)
{
    (void)state;
    if (g_proc.pid > 0) {
        kill(g_proc.pid, SIGKILL);
        waitpid(g_proc.pid, NULL, 0);
        close(g_proc.ctl_w);
        close(g_proc.ctl_r);
        g_proc.pid = 0;
    }
    server_stop(g_srv);
    g_srv = NULL;
    return 0;
}

/* Round trip n bytes through an echo path on a fresh connection. */
static void echo_roundtrip(int port, size_t n, uint64_t seed)
{
    unsigned char *out = malloc(n), *in = malloc(n);
    assert_non_null(out);
    assert_non_null(in);
    fill_random(out, n, seed);
    int fd = client_connect(port);
    assert_true(fd >= 0);
    struct xfer x = xfer(fd, out, n, true, in, n, 0, 20000);
    close(fd);
    if (x.end != END_EOF || x.got != n || memcmp(in, out, n) != 0)
        fail_msg("echo of %zu bytes: got %zu, end %d, %s", n, x.got, (int)x.end,
                 x.got == n ? "content differs" : "short");
    free(out);
    free(in);
}

/* ---- tests -------------------------------------------------------------- */

static void test_passthrough_1mib(void **state)
{
    (void)state;
    g_srv = server_start(true, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true, NULL);
    echo_roundtrip(g_proc.port, 1u << 20, 1);
    assert_true(server_wait(g_srv, 1, 5));
    const char *s = ctl(&g_proc, "stats");
    assert_int_equal(stat_of(s, "bytes_up"), 1u << 20);
    assert_int_equal(stat_of(s, "bytes_down"), 1u << 20);
    assert_int_equal(stat_of(s, "conns"), 1);
    assert_int_equal(stat_of(s, "cuts"), 0);
    assert_int_equal(stat_of(s, "flips"), 0);
    proxy_quit(&g_proc);
}

static void test_cut_up(void **state)
{
    (void)state;
    static unsigned char out[5000];
    fill_random(out, sizeof out, 2);
    g_srv = server_start(false, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true, (const char *const[]){"--cut-up", "1000", NULL});
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    struct xfer x = xfer(fd, out, sizeof out, false, NULL, 0, 0, 5000);
    close(fd);
    assert_true(x.end == END_EOF || x.end == END_RESET); /* the proxy closed us */
    assert_true(server_wait(g_srv, 1, 5));
    assert_int_equal(g_srv->conns[0].received, 1000);
    assert_memory_equal(g_srv->conns[0].data, out, 1000);
    const char *s = ctl(&g_proc, "stats");
    assert_int_equal(stat_of(s, "cuts"), 1);
    assert_int_equal(stat_of(s, "bytes_up"), 1000);
    proxy_quit(&g_proc);
}

static void test_cut_down(void **state)
{
    (void)state;
    static unsigned char src[5000], in[5000];
    fill_random(src, sizeof src, 3);
    g_srv = server_start(false, src, sizeof src);
    proxy_start(&g_proc, g_srv->port, true, NULL);
    ctl_ok(&g_proc, "set cut-down 1234"); /* set at run time */
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    struct xfer x = xfer(fd, NULL, 0, false, in, sizeof in, 0, 5000);
    close(fd);
    assert_true(x.end == END_EOF || x.end == END_RESET);
    assert_int_equal(x.got, 1234);
    assert_memory_equal(in, src, 1234);
    assert_true(server_wait(g_srv, 1, 5));
    const char *s = ctl(&g_proc, "stats");
    assert_int_equal(stat_of(s, "cuts"), 1);
    assert_int_equal(stat_of(s, "bytes_down"), 1234);
    proxy_quit(&g_proc);
}

static void test_fragment_1(void **state)
{
    (void)state;
    g_srv = server_start(true, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true, (const char *const[]){"--fragment", "1", NULL});
    echo_roundtrip(g_proc.port, 64 * 1024, 4);
    assert_true(server_wait(g_srv, 1, 5));
    const char *s = ctl(&g_proc, "stats");
    /* one write per byte, each way */
    assert_int_equal(stat_of(s, "writes_up"), 64 * 1024);
    assert_int_equal(stat_of(s, "writes_down"), 64 * 1024);
    proxy_quit(&g_proc);
}

/* Best of three 1-byte round trips on an open connection, in seconds. */
static double rtt(int fd)
{
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        unsigned char b = (unsigned char)i, r = 0;
        double t0 = now_s();
        struct xfer x = xfer(fd, &b, 1, false, &r, 1, 1, 5000);
        assert_int_equal(x.end, END_WANT);
        assert_int_equal(r, b);
        if (x.t_want - t0 < best)
            best = x.t_want - t0;
    }
    return best;
}

static void test_latency(void **state)
{
    (void)state;
    g_srv = server_start(true, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true, NULL);
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    double base = rtt(fd);
    ctl_ok(&g_proc, "set latency-ms 150");
    double slow = rtt(fd);
    close(fd);
    print_message("latency: round trip %.1f ms without, %.1f ms with 150 ms each way\n", base * 1e3,
                  slow * 1e3);
    if (slow < base + 0.300 - 0.002 || slow < 0.300)
        fail_msg("latency 150 ms each way added only %.1f ms to a round trip", (slow - base) * 1e3);
    assert_true(slow < 0.300 + 1.0);
    proxy_quit(&g_proc);
}

static void test_rate_64kbit(void **state)
{
    (void)state;
    enum { N = 32 * 1024 };
    static unsigned char down[N], up[N], in[N];
    fill_random(down, N, 5);
    fill_random(up, N, 6);
    g_srv = server_start(false, down, N);
    proxy_start(&g_proc, g_srv->port, true, (const char *const[]){"--rate-kbit", "64", NULL});
    double t0 = now_s();
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    struct xfer x = xfer(fd, up, N, false, in, N, N, 15000);
    assert_int_equal(x.end, END_WANT);
    assert_memory_equal(in, down, N);
    double t_down = x.t_want - t0;
    /* up: the server's clock, from accept to the last byte */
    double end = now_s() + 10;
    while (now_s() < end) {
        pthread_mutex_lock(&g_srv->mu);
        size_t got = g_srv->conns[0].received;
        pthread_mutex_unlock(&g_srv->mu);
        if (got >= N)
            break;
        usleep(10000);
    }
    close(fd);
    assert_true(server_wait(g_srv, 1, 5));
    struct srv_conn *sc = &g_srv->conns[0];
    assert_int_equal(sc->received, N);
    assert_memory_equal(sc->data, up, N);
    double t_up = sc->reads[sc->nreads - 1].t - sc->t_accept;
    double ideal = N * 8.0 / 64000.0; /* 4.096 s */
    print_message("rate: 32 KiB at 64 kbit/s: down %.2f s, up %.2f s (ideal %.2f s)\n", t_down,
                  t_up, ideal);
    assert_true(t_down >= ideal * 0.75 && t_down <= ideal * 1.25);
    assert_true(t_up >= ideal * 0.75 && t_up <= ideal * 1.25);
    /* smooth: no read on the server brings more than ~50 ms of traffic */
    for (size_t i = 1; i < sc->nreads; i++)
        assert_true(sc->reads[i].cum - sc->reads[i - 1].cum <= 400);
    proxy_quit(&g_proc);
}

/* Exactly one bit differs between a and b, at byte off. */
static void assert_one_flip(const unsigned char *a, const unsigned char *b, size_t n, size_t off)
{
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char d = a[i] ^ b[i];
        if (d != 0 && i != off)
            fail_msg("byte %zu differs (want only byte %zu)", i, off);
        bits += __builtin_popcount(d);
    }
    if (bits != 1)
        fail_msg("%d bits differ (want exactly 1, at byte %zu)", bits, off);
}

static void test_flip(void **state)
{
    (void)state;
    enum { N = 4096 };
    static unsigned char up[N], down[N], in[N];
    fill_random(up, N, 7);
    fill_random(down, N, 8);
    g_srv = server_start(false, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true,
                (const char *const[]){"--flip-after", "777", "--flip-dir", "up", NULL});
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    struct xfer x = xfer(fd, up, N, true, NULL, 0, 0, 5000);
    close(fd);
    assert_int_equal(x.end, END_EOF);
    assert_true(server_wait(g_srv, 1, 5));
    assert_int_equal(g_srv->conns[0].received, N);
    assert_one_flip(g_srv->conns[0].data, up, N, 777);

    ctl_ok(&g_proc, "set flip-dir down");
    ctl_ok(&g_proc, "set flip-after 4000");
    server_set_send(g_srv, down, N);
    fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    x = xfer(fd, NULL, 0, true, in, N, N, 5000);
    close(fd);
    assert_int_equal(x.got, N);
    assert_one_flip(in, down, N, 4000);
    assert_true(server_wait(g_srv, 2, 5));
    assert_int_equal(stat_of(ctl(&g_proc, "stats"), "flips"), 2);
    proxy_quit(&g_proc);
}

static void test_refuse_drop_kill_all(void **state)
{
    (void)state;
    g_srv = server_start(true, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true, (const char *const[]){"--refuse", NULL});
    int port = g_proc.port;

    /* refuse: the connection opens and is closed at once, nothing upstream */
    int fd = client_connect(port);
    assert_true(fd >= 0);
    unsigned char b = 'x';
    struct xfer x = xfer(fd, &b, 1, false, NULL, 0, 0, 3000);
    close(fd);
    assert_true(x.end == END_EOF || x.end == END_RESET);
    assert_int_equal(x.got, 0);
    assert_int_equal(stat_of(ctl(&g_proc, "stats"), "refused"), 1);
    ctl_ok(&g_proc, "set refuse 0");
    echo_roundtrip(port, 1000, 9);

    /* drop: nobody listens; back on the same port afterwards */
    ctl_ok(&g_proc, "set drop 1");
    fd = client_connect(port);
    if (fd >= 0)
        close(fd);
    assert_int_equal(fd, -ECONNREFUSED);
    ctl_ok(&g_proc, "set drop 0");
    echo_roundtrip(port, 1000, 10);
    assert_true(server_wait(g_srv, 2, 5));
    assert_int_equal(server_accepted(g_srv), 2);

    /* kill-all: an open connection is closed by the proxy */
    fd = client_connect(port);
    assert_true(fd >= 0);
    x = xfer(fd, &b, 1, false, NULL, 0, 1, 3000);
    assert_int_equal(x.end, END_WANT);
    assert_int_equal(stat_of(ctl(&g_proc, "stats"), "open"), 1);
    ctl_ok(&g_proc, "kill-all");
    x = xfer(fd, NULL, 0, false, NULL, 0, 0, 3000);
    close(fd);
    assert_true(x.end == END_EOF || x.end == END_RESET);
    proxy_quit(&g_proc);
}

/* Stats and errors through the Unix control socket; SIGTERM with a
 * connection open exits cleanly. */
static void test_stats_socket_sigterm(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_proxy.%d.sock", (int)getpid());
    g_srv = server_start(true, NULL, 0);
    proxy_start(&g_proc, g_srv->port, false, (const char *const[]){"--control", path, NULL});
    echo_roundtrip(g_proc.port, 100, 11);
    echo_roundtrip(g_proc.port, 200, 12);
    echo_roundtrip(g_proc.port, 300, 13);
    assert_true(server_wait(g_srv, 3, 5));

    int cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    assert_int_equal(connect(cfd, (struct sockaddr *)&un, sizeof un), 0);
    char line[8192];
    assert_true(write_all(cfd, "stats\n", 6));
    assert_true(read_line(cfd, line, sizeof line, 5000));
    assert_int_equal(stat_of(line, "bytes_up"), 600);
    assert_int_equal(stat_of(line, "bytes_down"), 600);
    assert_int_equal(stat_of(line, "conns"), 3);
    assert_int_equal(stat_of(line, "cuts"), 0);
    assert_true(write_all(cfd, "set nonsense 1\nset cut-up -5\nfrobnicate\n", 40));
    for (int i = 0; i < 3; i++) {
        assert_true(read_line(cfd, line, sizeof line, 5000));
        if (strncmp(line, "error: ", 7) != 0)
            fail_msg("bad command answered '%s'", line);
    }
    char big[600];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = '\n';
    assert_true(write_all(cfd, big, sizeof big));
    assert_true(read_line(cfd, line, sizeof line, 5000));
    assert_string_equal(line, "error: line too long");
    assert_true(write_all(cfd, "clear\n", 6));
    assert_true(read_line(cfd, line, sizeof line, 5000));
    assert_string_equal(line, "ok");
    close(cfd);

    int fd = client_connect(g_proc.port); /* left open across SIGTERM */
    assert_true(fd >= 0);
    unsigned char b = 'y';
    struct xfer x = xfer(fd, &b, 1, false, NULL, 0, 1, 3000);
    assert_int_equal(x.end, END_WANT);
    kill(g_proc.pid, SIGTERM);
    assert_clean_exit(&g_proc, proc_reap(&g_proc, 10));
    close(fd);
    unlink(path);
}

static void test_stall(void **state)
{
    (void)state;
    enum { N = 3000 };
    static unsigned char out[N];
    fill_random(out, N, 14);
    g_srv = server_start(false, NULL, 0);
    proxy_start(&g_proc, g_srv->port, true,
                (const char *const[]){"--stall-after", "1000", "--stall-ms", "400", NULL});
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    struct xfer x = xfer(fd, out, N, true, NULL, 0, 0, 5000);
    close(fd);
    assert_int_equal(x.end, END_EOF);
    assert_true(server_wait(g_srv, 1, 5));
    struct srv_conn *sc = &g_srv->conns[0];
    assert_int_equal(sc->received, N);
    assert_memory_equal(sc->data, out, N);
    size_t i = 0;
    while (i < sc->nreads && sc->reads[i].cum < 1000)
        i++;
    assert_true(i + 1 < sc->nreads);
    assert_int_equal(sc->reads[i].cum, 1000); /* the stall falls exactly at byte 1000 */
    double gap = sc->reads[i + 1].t - sc->reads[i].t;
    print_message("stall: %.0f ms gap after byte 1000\n", gap * 1e3);
    assert_true(gap >= 0.350);
    assert_int_equal(stat_of(ctl(&g_proc, "stats"), "stalls"), 1);
    proxy_quit(&g_proc);
}

/* One run of six connections through --cut-random; out[i] is +N for a cut
 * up at N, -N for a cut down at N. */
static void random_cuts(const char *seed, long out[6])
{
    enum { N = 8192 };
    static unsigned char down[N], up[N], in[N];
    fill_random(down, N, 15);
    fill_random(up, N, 16);
    g_srv = server_start(false, down, N);
    proxy_start(&g_proc, g_srv->port, true,
                (const char *const[]){"--seed", seed, "--cut-random", "100-5000", NULL});
    char want[64];
    snprintf(want, sizeof want, "qs-proxy: seed %s\n", seed);
    assert_true(stderr_contains(&g_proc, want));
    for (int i = 0; i < 6; i++) {
        int fd = client_connect(g_proc.port);
        assert_true(fd >= 0);
        /* down first, all of it; then up: so only the cut direction is short */
        struct xfer x = xfer(fd, NULL, 0, false, in, N, N, 5000);
        if (x.got < N) {
            assert_true(x.end == END_EOF || x.end == END_RESET);
            out[i] = -(long)x.got;
        } else {
            x = xfer(fd, up, N, true, NULL, 0, 0, 5000);
            assert_true(x.end == END_EOF || x.end == END_RESET);
            assert_true(server_wait(g_srv, i + 1, 5));
            out[i] = (long)g_srv->conns[i].received;
        }
        close(fd);
        assert_true(server_wait(g_srv, i + 1, 5));
        long n = out[i] < 0 ? -out[i] : out[i];
        if (n < 100 || n > 5000)
            fail_msg("seed %s conn %d: cut at %ld, outside 100-5000", seed, i, n);
    }
    assert_int_equal(stat_of(ctl(&g_proc, "stats"), "cuts"), 6);
    proxy_quit(&g_proc);
    server_stop(g_srv);
    g_srv = NULL;
}

static void test_seed_replay(void **state)
{
    (void)state;
    long a[6], b[6], c[6];
    random_cuts("1234", a);
    random_cuts("1234", b);
    random_cuts("4321", c);
    print_message("seed 1234 cuts: %ld %ld %ld %ld %ld %ld (+up/-down)\n", a[0], a[1], a[2], a[3],
                  a[4], a[5]);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    bool varied = false, ups = false, downs = false;
    for (int i = 0; i < 6; i++) {
        varied |= a[i] != a[0];
        ups |= a[i] > 0;
        downs |= a[i] < 0;
    }
    assert_true(varied);
    assert_true(ups && downs); /* fixed seed: known to hit both directions */
}

/* A server that does not read: the proxy stops reading the client (its queue
 * stays bounded) and resumes when the server drains; nothing is lost. */
static void test_backpressure(void **state)
{
    (void)state;
    enum { N = 32u << 20 };
    unsigned char *out = malloc(N);
    assert_non_null(out);
    fill_random(out, N, 17);
    g_srv = server_start(false, NULL, 0);
    g_srv->delay_ms = 1500;
    proxy_start(&g_proc, g_srv->port, true, NULL);
    int fd = client_connect(g_proc.port);
    assert_true(fd >= 0);
    /* push for a second while nobody reads */
    struct xfer x = xfer(fd, out, N, false, NULL, 0, 0, 1000);
    assert_int_equal(x.end, END_TIMEOUT);
    const char *s = ctl(&g_proc, "stats");
    uint64_t queued = stat_of(s, "queued_max");
    print_message("backpressure: client pushed %zu bytes while the server slept; proxy queue "
                  "peaked at %" PRIu64 "\n",
                  x.sent, queued);
    assert_true(x.sent > (1u << 20)); /* the bound below was really pushed against */
    assert_true(x.sent < N);          /* and the client was held back */
    assert_true(queued <= 320 * 1024);
    /* the server wakes up: everything arrives, in order */
    size_t sent = x.sent;
    x = xfer(fd, out + sent, N - sent < (4u << 20) ? N - sent : (4u << 20), true, NULL, 0, 0,
             20000);
    sent += x.sent;
    close(fd);
    assert_true(server_wait(g_srv, 1, 20));
    assert_int_equal(g_srv->conns[0].received, sent);
    assert_memory_equal(g_srv->conns[0].data, out, sent < SRV_KEEP ? sent : SRV_KEEP);
    free(out);
    proxy_quit(&g_proc);
}

/* The target is down: the client's connection is closed, the proxy lives. */
static void test_target_down(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    close(lfd); /* bound, never listened: connecting there is refused */
    proxy_start(&g_proc, ntohs(a.sin_port), true, NULL);
    for (int i = 0; i < 3; i++) {
        int fd = client_connect(g_proc.port);
        assert_true(fd >= 0);
        struct xfer x = xfer(fd, "hello", 5, false, NULL, 0, 0, 3000);
        close(fd);
        assert_true(x.end == END_EOF || x.end == END_RESET);
        assert_int_equal(x.got, 0);
    }
    const char *s = ctl(&g_proc, "stats");
    assert_int_equal(stat_of(s, "conns"), 3);
    assert_int_equal(stat_of(s, "bytes_up"), 0);
    proxy_quit(&g_proc);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    static const char *const bad[][8] = {
        {"--listen", "nope", "--target", "127.0.0.1:1", NULL},
        {"--listen", "127.0.0.1:0", NULL},
        {"--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--cut-random", "9-3", NULL},
        {"--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--flip-dir", "left", NULL},
        {"--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--rate-kbit", "-1", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[10] = {proxy_path};
        for (int j = 0; bad[i][j] != NULL; j++)
            argv[j + 1] = bad[i][j];
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            dup2(devnull, 1);
            execv(proxy_path, (char *const *)argv);
            _exit(127);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
            fail_msg("bad argument set %zu: status 0x%x, want exit 2", i, st);
    }
}

int main(int argc, char **argv)
{
    proxy_path = argc > 1 ? argv[1] : getenv("QS_PROXY");
    if (proxy_path == NULL || access(proxy_path, X_OK) != 0) {
        fprintf(stderr, "usage: test_proxy PATH-TO-qs-proxy (or QS_PROXY=PATH)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_passthrough_1mib, teardown),
        cmocka_unit_test_teardown(test_cut_up, teardown),
        cmocka_unit_test_teardown(test_cut_down, teardown),
        cmocka_unit_test_teardown(test_fragment_1, teardown),
        cmocka_unit_test_teardown(test_latency, teardown),
        cmocka_unit_test_teardown(test_rate_64kbit, teardown),
        cmocka_unit_test_teardown(test_flip, teardown),
        cmocka_unit_test_teardown(test_refuse_drop_kill_all, teardown),
        cmocka_unit_test_teardown(test_stats_socket_sigterm, teardown),
        cmocka_unit_test_teardown(test_stall, teardown),
        cmocka_unit_test_teardown(test_seed_replay, teardown),
        cmocka_unit_test_teardown(test_backpressure, teardown),
        cmocka_unit_test_teardown(test_target_down, teardown),
        cmocka_unit_test_teardown(test_bad_arguments, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
