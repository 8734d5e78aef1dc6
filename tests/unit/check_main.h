/*
 * check_main.h - the main() every unit test file shares: run one suite,
 * exit non-zero if any test failed.
 */
#ifndef LOYALTY_CHECK_MAIN_H
#define LOYALTY_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(make_suite)                                                           \
    int main(void)                                                                       \
    {                                                                                    \
        SRunner *sr = srunner_create(make_suite());                                      \
        int failed;                                                                      \
                                                                                         \
        srunner_run_all(sr, CK_NORMAL);                                                  \
        failed = srunner_ntests_failed(sr);                                              \
        srunner_free(sr);                                                                \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                     \
    }

#endif
