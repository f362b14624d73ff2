/* on_error=continue with stray writes that are not plain MOV stores: memset and memcpy (vector
 * and string instructions) into a read-only view, page-crossing. Every byte must land, with one
 * report per writing instruction, not one per byte. */
#include <mirrorguard.h>
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static void clear_record(char *p, size_t n) { memset(p, 0xab, n); }
__attribute__((noinline)) static void copy_record(char *p, const char *src, size_t n) { memcpy(p, src, n); }

int main(void)
{
    char *p = mg_alloc(3 * 4096);
    static char src[3 * 4096];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (char)(i * 7);
    clear_record(p, 3 * 4096);
    size_t bad = 0;
    for (size_t i = 0; i < 3 * 4096; i++) bad += (unsigned char)p[i] != 0xab;
    copy_record(p + 100, src, sizeof src - 200);
    for (size_t i = 0; i < sizeof src - 200; i++) bad += p[100 + i] != src[i];
    printf("bad bytes %zu, reports %s\n", bad, mg_report_count() < 20 ? "few" : "too many");
    return 0;
}
