// DemoPrograms.swift — the bundled example bugs `mirrorguard demo` builds and runs.
//
// Each is a small, ordinary-looking C program with one bug of the kind MirrorGuard exists for,
// kept here as a string so the harness needs no resource bundle. `expectedKind` and
// `expectedFunction` are what its report must say; the demo checks them, so a demo that stops
// catching its bug fails instead of printing something else.

struct DemoProgram: Sendable {
    var name: String  // file stem: NAME.c, binary NAME
    var title: String
    var expectedKind: String
    var expectedFunction: String
    var usesAPI: Bool  // calls the mg_ API: compiled against mirrorguard.h and linked with -lmirrorguard
    var source: String

    static let all: [DemoProgram] = [heapOverflow, useAfterFree, strayWrite]

    static let heapOverflow = DemoProgram(
        name: "heap_overflow", title: "heap overflow: a loop writes one element past its array",
        expectedKind: "heap-buffer-overflow", expectedFunction: "fill_squares", usesAPI: false,
        source: """
            /* A heap overflow: the loop runs one step too far and writes squares[count]. */
            #include <stdio.h>
            #include <stdlib.h>

            static void fill_squares(int *squares, int count)
            {
                for (int i = 0; i <= count; i++) /* the bug: <= */
                    squares[i] = i * i;
            }

            int main(void)
            {
                int count = 8;
                int *squares = malloc(count * sizeof *squares);
                fill_squares(squares, count);
                printf("7 squared is %d\\n", squares[7]);
                free(squares);
                return 0;
            }

            """)

    static let useAfterFree = DemoProgram(
        name: "use_after_free", title: "use after free: a cached pointer outlives its object",
        expectedKind: "heap-use-after-free", expectedFunction: "session_id", usesAPI: false,
        source: """
            /* A use after free: the cache still points at a session that was closed. */
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>

            struct session { int id; char user[28]; };
            static struct session *cache;

            static struct session *open_session(int id, const char *user)
            {
                struct session *s = calloc(1, sizeof *s);
                s->id = id;
                strncpy(s->user, user, sizeof s->user - 1);
                cache = s;
                return s;
            }

            static void close_session(struct session *s) { free(s); }

            static int session_id(const struct session *s) { return s->id; }

            int main(void)
            {
                struct session *s = open_session(42, "ada");
                close_session(s);
                printf("last session: %d\\n", session_id(cache)); /* the bug: cache is stale */
                return 0;
            }

            """)

    static let strayWrite = DemoProgram(
        name: "stray_write", title: "stray write: code given a read-only view writes through it",
        expectedKind: "stray-write", expectedFunction: "enable_debug", usesAPI: true,
        source: """
            /* A stray write. The configuration is built inside a write section and then handed out
             * as its read-only view; a function that casts const away and writes is caught. */
            #include <mirrorguard.h>
            #include <stdio.h>

            struct config { int port; int debug; };

            static const struct config *load_config(void)
            {
                struct config *c = mg_unprotect(mg_alloc(sizeof *c)); /* writable alias */
                c->port = 8080;
                return mg_protect(c); /* the read-only view */
            }

            static void enable_debug(const struct config *c)
            {
                ((struct config *)c)->debug = 1; /* the bug: writes through the read-only view */
            }

            int main(void)
            {
                const struct config *config = load_config();
                printf("listening on port %d\\n", config->port);
                fflush(stdout);
                enable_debug(config);
                printf("debug is %d\\n", config->debug);
                return 0;
            }

            """)
}
