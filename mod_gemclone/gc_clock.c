/* The injectable clock. */
#include "httpd.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "apr_time.h"

#include "gc_clock.h"

/* Reads a signed decimal offset from path; a missing or unreadable file is
 * offset 0 (the tests remove it to reset time). */
static int64_t read_offset(const char *path)
{
    char buf[32];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return strtoll(buf, NULL, 10);
}

int64_t gc_clock_now(const gc_config *cfg)
{
    int64_t now = (int64_t)apr_time_sec(apr_time_now());
    if (cfg->test_mode == 1 && cfg->test_clock_file) {
        now += read_offset(cfg->test_clock_file);
    }
    return now;
}
