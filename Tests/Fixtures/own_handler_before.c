/* A program that installs its own SIGSEGV handler before MirrorGuard is loaded (dlopen'ed
 * later, as a plugin would be). Its own faults still reach it; arena faults are reported. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void crash_reporter(int sig)
{
    static const char msg[] = "crash reporter caught signal\n";
    write(1, msg, sizeof msg - 1);
    _exit(sig == SIGSEGV ? 7 : 8);
}

__attribute__((noinline)) static int deref_null(volatile int *p) { return *p; }
__attribute__((noinline)) static char overflow(const char *p) { return p[64]; }

int main(int argc, char **argv)
{
    signal(SIGSEGV, crash_reporter);
    void *lib = dlopen(getenv("MG_LIBRARY"), RTLD_NOW);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    void *(*alloc)(size_t) = (void *(*)(size_t))dlsym(lib, "mg_alloc");
    const char *obj = alloc(64);
    printf("loaded\n");
    fflush(stdout);
    if (argc > 1 && !strcmp(argv[1], "heap")) return overflow(obj);
    return deref_null(NULL);
}
