/* The daemon's frame: see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "worker_log.h"

/* ---- signals --------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;   /* SIGTERM or SIGINT received */
static volatile sig_atomic_t reload_flag;   /* SIGHUP received */

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

/* Installs the flag-setting handlers. No SA_RESTART: a signal must cut a
 * poll(2) or a connect short so the loop sees the flag at once. */
int daemon_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = on_hup;
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return -1;
    /* A write to a closed Redis or HTTP socket must be an error, not death. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

int daemon_stop_signal(void)
{
    return (int)stop_signal;
}

int daemon_take_reload(void)
{
    if (!reload_flag)
        return 0;
    reload_flag = 0;
    return 1;
}

/* ---- pidfile ------------------------------------------------------------ */

static const char *pidfile_path;
static int pidfile_fd = -1;

/* Creates and locks the pidfile; a held lock means another instance runs.
 * The lock (not the file's presence) decides, so a stale file left by a
 * crash does not block a restart. Returns 0 or -1 (logged). */
int pidfile_create(const char *path)
{
    struct flock fl;
    char buf[32];
    int fd, len;
    ssize_t n;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        wlog(WLOG_ERROR, GCWNO(00015), "cannot open pidfile %s: %s", path,
             strerror(errno));
        return -1;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        wlog(WLOG_ERROR, GCWNO(00016), "pidfile %s is locked: another "
             "gemclone-worker runs (pid %s)", path, buf[0] ? buf : "?");
        close(fd);
        return -1;
    }
    len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)len) != len) {
        wlog(WLOG_ERROR, GCWNO(00017), "cannot write pidfile %s: %s", path,
             strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    pidfile_path = path;
    pidfile_fd = fd;
    return 0;
}

/* Removes the pidfile while still holding its lock, so a new instance
 * cannot have written its own pid into it in between. */
void pidfile_remove(void)
{
    if (pidfile_fd < 0)
        return;
    if (unlink(pidfile_path) != 0)
        wlog(WLOG_WARN, GCWNO(00018), "cannot remove pidfile %s: %s",
             pidfile_path, strerror(errno));
    close(pidfile_fd);
    pidfile_fd = -1;
}

int pidfile_held(void)
{
    return pidfile_fd >= 0;
}

/* ---- daemonizing ---------------------------------------------------------- */

/* Double fork and setsid. The original process waits on a pipe until the
 * daemon reports that it has started (pidfile written) and exits with the
 * daemon's status, so `gemclone-worker --pidfile F && cat F` works and a
 * start-up failure is not hidden behind exit 0. Returns, in the daemon
 * only, the pipe's write end (see report_started), or -1 on error. */
int daemonize(void)
{
    int fds[2], devnull;
    pid_t pid;
    ssize_t n;
    unsigned char status;

    if (pipe(fds) != 0) {
        wlog(WLOG_ERROR, GCWNO(00019), "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        wlog(WLOG_ERROR, GCWNO(00020), "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        close(fds[1]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        do
            n = read(fds[0], &status, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? status : 1);   /* EOF: the daemon died on the way */
    }

    close(fds[0]);
    if (setsid() < 0)
        _exit(1);
    pid = fork();                     /* no longer a session leader: it can */
    if (pid < 0)                      /* never regain a controlling tty */
        _exit(1);
    if (pid > 0)
        _exit(0);

    if (chdir("/") != 0)
        _exit(1);
    /* stdin and stdout go to /dev/null; stderr stays: it carries the log
     * (redirect it to a file, or run under systemd with --foreground). */
    devnull = open("/dev/null", O_RDWR);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0
        || dup2(devnull, STDOUT_FILENO) < 0)
        _exit(1);
    if (devnull > STDERR_FILENO)
        close(devnull);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return fds[1];
}

/* Tells the waiting original process our exit status and closes the pipe. */
void report_started(int fd, unsigned char status)
{
    ssize_t n;

    if (fd < 0)
        return;
    do
        n = write(fd, &status, 1);
    while (n < 0 && errno == EINTR);
    close(fd);
}

/* An absolute form of path: daemonizing changes directory to /. */
const char *absolute_path(apr_pool_t *p, const char *path)
{
    char cwd[4096];

    if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return path;
    return apr_pstrcat(p, cwd, "/", path, NULL);
}
