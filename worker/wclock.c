/* The worker's clocks: see wclock.h. */
#include "wclock.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The signed decimal offset in path, or 0. */
static int64_t read_offset(const char *path)
{
    char buf[32];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtoll(buf, NULL, 10);
}

int64_t wclock_now(const char *test_clock_file)
{
    int64_t now = (int64_t)time(NULL);

    if (test_clock_file != NULL)
        now += read_offset(test_clock_file);
    return now;
}

double wclock_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
