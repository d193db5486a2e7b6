/* The daemon's frame around the event loop: signal handlers that only set
 * flags, the locked pidfile, and daemonizing with a start-up report to the
 * original process. */
#ifndef DAEMON_H
#define DAEMON_H

#include <apr_pools.h>

/* Installs the flag-setting handlers for TERM, INT and HUP (without
 * SA_RESTART: a signal cuts a poll(2) or a connect short) and ignores
 * PIPE. Returns 0 or -1. */
int daemon_install_signals(void);

/* The stop signal received (SIGTERM or SIGINT), or 0. */
int daemon_stop_signal(void);

/* 1 once for each SIGHUP received (the flag is cleared), else 0. */
int daemon_take_reload(void);

/* Creates and locks the pidfile; a held lock means another instance runs
 * (a stale file left by a crash does not block a restart). Returns 0 or
 * -1 (logged). */
int pidfile_create(const char *path);

/* Removes the pidfile (still holding its lock); nothing if none. */
void pidfile_remove(void);

/* 1 while this process holds a pidfile. */
int pidfile_held(void);

/* Double fork and setsid; the original process exits with the status the
 * daemon reports through report_started. Returns, in the daemon only, the
 * report pipe's write end, or -1 on error. */
int daemonize(void);

/* Tells the waiting original process our status and closes fd (-1: none). */
void report_started(int fd, unsigned char status);

/* An absolute form of path (daemonizing changes directory to /). */
const char *absolute_path(apr_pool_t *p, const char *path);

#endif
