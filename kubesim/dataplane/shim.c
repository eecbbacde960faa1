/* The network commands inside an embedded-cluster pod (curl, dig, getent, ...): a tiny client
 * that hands argv to the kubesim data plane over a Unix socket and replays what comes back
 * (stdout, stderr, files to write, exit code). Built once per server with the system C compiler;
 * shim.py is the same program for machines without one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int writen(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w; n -= (size_t)w;
    }
    return 0;
}

static int readn(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) return -1;
        p += r; n -= (size_t)r;
    }
    return 0;
}

static char *ident(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static char out[1 << 16];
static size_t outlen;

static void put(const char *s, size_t n) {
    if (outlen + n > sizeof out) { fprintf(stderr, "kubesim shim: arguments too long\n"); exit(2); }
    memcpy(out + outlen, s, n); outlen += n;
}

static void putfield(const char *s) {
    char num[32];
    size_t n = strlen(s);
    int k = snprintf(num, sizeof num, "%zu\n", n);
    put(num, (size_t)k); put(s, n);
}

int main(int argc, char **argv) {
    char exe[PATH_MAX], idpath[PATH_MAX + 16];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *id = NULL;
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) { *slash = 0; snprintf(idpath, sizeof idpath, "%s/.kubesim", exe); id = ident(idpath); }
    }
    if (!id) id = ident("/usr/local/sbin/.kubesim");
    if (!id) { fprintf(stderr, "%s: this command belongs to a pod of the embedded cluster\n", argv[0]); return 127; }
    char *nl = strchr(id, '\n');
    if (!nl) return 127;
    *nl = 0;
    char *token = nl + 1;
    char *nl2 = strchr(token, '\n');
    if (nl2) *nl2 = 0;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, id, sizeof sa.sun_path - 1);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "%s: the embedded cluster's data plane does not answer (%s)\n", argv[0], strerror(errno));
        return 1;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "/");
    struct winsize ws;
    int cols = 0;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0) cols = ws.ws_col;
    char flags[64];
    snprintf(flags, sizeof flags, "%d%d%d %d", isatty(0), isatty(1), isatty(2), cols);
    put("KS1\n", 4);
    putfield(token); putfield(cwd); putfield(flags);
    char num[32];
    int k = snprintf(num, sizeof num, "%d\n", argc);
    put(num, (size_t)k);
    for (int i = 0; i < argc; i++) putfield(argv[i]);
    if (writen(s, out, outlen) != 0) return 1;
    int fd = -1, failed = 0;
    char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        unsigned char hdr[5];
        if (readn(s, (char *)hdr, 5) != 0) {
            fprintf(stderr, "%s: lost the connection to the embedded cluster\n", argv[0]);
            return 1;
        }
        size_t n = ((size_t)hdr[1] << 24) | ((size_t)hdr[2] << 16) | ((size_t)hdr[3] << 8) | hdr[4];
        if (n + 1 > cap) { cap = n + 1; buf = realloc(buf, cap); if (!buf) return 1; }
        if (n && readn(s, buf, n) != 0) return 1;
        buf[n] = 0;
        switch (hdr[0]) {
        case 'o': writen(1, buf, n); break;
        case 'e': writen(2, buf, n); break;
        case 'f': case 'a':
            if (fd > 2) close(fd);
            if (strcmp(buf, "-") == 0) { fd = 1; break; }
            fd = open(buf, O_WRONLY | O_CREAT | (hdr[0] == 'a' ? O_APPEND : O_TRUNC), 0644);
            if (fd < 0) failed = 1;
            break;
        case 'w': if (fd >= 0 && writen(fd, buf, n) != 0) failed = 1; break;
        case 'c': if (fd > 2) close(fd); fd = -1; break;
        case 'x': {
            int code = atoi(buf);
            if (failed && code == 0) {
                fprintf(stderr, "%s: (23) Failure writing output to destination\n", argv[0]);
                code = 23;
            }
            return code;
        }
        default: break;
        }
    }
}
