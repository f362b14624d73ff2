// C++ heap bugs, one per argument: array_overflow (new[] overflow in touch_past_end),
// use_after_delete (in read_deleted), and each mismatched pair (alloc-dealloc-mismatch in
// the function that frees): new[]+delete, new+delete[], new+free, malloc+delete.
#include <cstdio>
#include <cstdlib>
#include <cstring>

struct Widget { int id = 1; double weight = 2.0; };

// a[n + 2]: past the 16-byte alignment padding, so the guard page traps it at once.
__attribute__((noinline)) static void touch_past_end(int *a, int n) { a[n + 2] = 1; }
__attribute__((noinline)) static int read_deleted(const Widget *w) { return w->id; }
__attribute__((noinline)) static void delete_array_as_object(int *a) { delete a; }
__attribute__((noinline)) static void delete_object_as_array(Widget *w) { delete[] w; }
__attribute__((noinline)) static void free_new_object(Widget *w) { free(w); }
__attribute__((noinline)) static void delete_malloced(int *p) { delete p; }

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "array_overflow";
    if (!strcmp(what, "array_overflow")) {
        int *a = new int[10];
        touch_past_end(a, 10);
        delete[] a;
    } else if (!strcmp(what, "use_after_delete")) {
        Widget *w = new Widget;
        delete w;
        std::printf("%d\n", read_deleted(w));
    } else if (!strcmp(what, "new_array_delete")) {
        delete_array_as_object(new int[4]);
    } else if (!strcmp(what, "new_delete_array")) {
        delete_object_as_array(new Widget);
    } else if (!strcmp(what, "new_free")) {
        free_new_object(new Widget);
    } else if (!strcmp(what, "malloc_delete")) {
        delete_malloced(static_cast<int *>(malloc(sizeof(int))));
    }
    std::printf("finished\n");
    return 0;
}
