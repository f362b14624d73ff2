/* A 1-byte overflow of a 13-byte object. With alignment=1 the guard page catches it at once
 * (in off_by_one); with the default alignment of 16 it lands in padding and the canary finds
 * it when the object is freed (in release). */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void off_by_one(char *p) { memcpy(p, "0123456789abc!", 14); }
__attribute__((noinline)) static void release(char *p) { free(p); }

int main(void)
{
    char *p = malloc(13);
    off_by_one(p);
    release(p);
    return 0;
}
