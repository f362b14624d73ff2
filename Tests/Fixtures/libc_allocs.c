#define _GNU_SOURCE
/* Memory that libc allocates and the program frees, plus system(), popen() and dlopen(). */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *s = strdup("duplicated");
    char *n = strndup("abcdef", 3);
    char *a;
    if (asprintf(&a, "%s-%d", s, 42) < 0) return 1;
    char *rp = realpath("/usr/bin/../bin", NULL);
    printf("%s %s %s %s\n", s, n, a, rp);
    free(s); free(n); free(a); free(rp);

    FILE *f = fopen("/proc/self/status", "r");
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, f) > 0) lines++;
    free(line);
    fclose(f);
    printf("getline read %s\n", lines > 5 ? "lines" : "nothing");

    struct dirent **list;
    int count = scandir("/", &list, NULL, alphasort);
    for (int i = 0; i < count; i++) free(list[i]);
    free(list);
    printf("scandir %s\n", count > 3 ? "listed" : "failed");

    fflush(stdout);
    int rc = system("echo from system");
    FILE *p = popen("echo from popen", "r");
    char buf[64] = {0};
    if (!fgets(buf, sizeof buf, p)) return 1;
    pclose(p);
    printf("system rc %d, %s", rc, buf);

    void *lib = dlopen("libm.so.6", RTLD_NOW);
    double (*cosine)(double) = (double (*)(double))dlsym(lib, "cos");
    printf("dlopen cos(0) = %.1f\n", cosine(0.0));
    dlclose(lib);
    return 0;
}
