#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool sync)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int n = slash ? snprintf(tmp, sizeof(tmp), "%.*s/.tmp-%s", (int)(slash - path), path, slash + 1)
                  : snprintf(tmp, sizeof(tmp), ".tmp-%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, data, len);
    if (r == 0 && sync && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return sync ? fsync_dir_of(path) : 0;
}

int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    int r = 0;
    for (;;) {
        if (len == size - 1) {
            char c;
            ssize_t x = read(fd, &c, 1);
            if (x > 0)
                r = -EFBIG;
            else if (x < 0)
                r = -errno;
            break;
        }
        ssize_t x = read(fd, buf + len, size - 1 - len);
        if (x < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (x == 0)
            break;
        len += (size_t)x;
    }
    close(fd);
    buf[len] = '\0';
    if (ret_len)
        *ret_len = len;
    return r;
}

int ensure_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}
