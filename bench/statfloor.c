/* The stat floor: walk the given folders (opendir/readdir, no sorting) and fstatat() every entry,
 * without following symlinks, the least work any tool that checks every input's metadata must
 * do. Prints "<files> files <bytes> bytes". Built by bench/run.sh with `cc -O2`.
 *
 * usage: statfloor DIR...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long files, bytes;

static int walk(int dirfd) {
    DIR *d = fdopendir(dirfd);
    if (!d) { close(dirfd); return -1; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) walk(fd);
        } else if (S_ISREG(st.st_mode)) {
            files++;
            bytes += (unsigned long long)st.st_size;
        }
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) { perror(argv[i]); return 1; }
        walk(fd);
    }
    printf("%llu files %llu bytes\n", files, bytes);
    return 0;
}
