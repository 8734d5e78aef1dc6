/*
 * fuzz_config.c - the configuration reader (daemon/config.c) on arbitrary
 * text: every line is taken or refused with its line number, nothing
 * crashes or leaks, and what was taken can be compared with the defaults.
 *
 * The keys that name a file (redis.password_file, kafka.*_file) or a
 * librdkafka plugin (kafka.plugin.library.paths) are made unknown keys
 * before reading: the reader would open that file or load that library,
 * which is not the text under test.  CREDENTIALS_DIRECTORY is unset for the
 * same reason.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "tests/fuzz/fuzz.h"

/* Every "_file" becomes "_fil_", every "plugin" "plugon". */
static void no_files(char *text, size_t size)
{
    static const char *const words[][2] = {{"_file", "_fil_"}, {"plugin", "plugon"}};

    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t n = strlen(words[w][0]);
        char *p = text;

        while ((p = memmem(p, size - (size_t)(p - text), words[w][0], n)) != NULL) {
            memcpy(p, words[w][1], n);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config defaults, cfg;
    char err[1024] = "", changes[1024], *text;
    FILE *f;
    int rc;

    if (size == 0) {
        return 0;
    }
    text = malloc(size);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    no_files(text, size);
    unsetenv("CREDENTIALS_DIRECTORY");
    FUZZ_CHECK(config_init(&defaults) == 0 && config_init(&cfg) == 0, "out of memory");
    f = fmemopen(text, size, "r");
    FUZZ_CHECK(f != NULL, "fmemopen failed");
    rc = config_read(&cfg, f, "fuzz.conf", err, sizeof(err));
    fclose(f);
    free(text);
    if (rc < 0) {
        FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0, "refusal does not name the file");
    } else {
        (void)config_restart_changes(&defaults, &cfg, changes, sizeof(changes));
    }
    config_fini(&cfg);
    config_fini(&defaults);
    return 0;
}
