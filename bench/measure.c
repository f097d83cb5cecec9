/* Time one command like `/usr/bin/time -f '%e %M'`, with a nanosecond clock: fork, exec, wait4,
 * then write "<wall ns> <maxrss KiB> <user us> <sys us>" to RESULTFILE and exit with the
 * command's status. A small C process is needed in between: ru_maxrss survives exec, so a
 * command forked straight from the Python harness would report at least the harness's own
 * ~20 MiB. Built by bench/run.sh with `cc -O2`.
 *
 * usage: measure RESULTFILE COMMAND [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULTFILE COMMAND [ARG...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 125; }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) { perror("wait4"); return 125; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    FILE *f = fopen(argv[1], "w");
    if (f) {
        fprintf(f, "%lld %ld %lld %lld\n", ns, ru.ru_maxrss,
                (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
                (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec);
        fclose(f);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}
