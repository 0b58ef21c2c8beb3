/*
 * ts-in: take tuples out of the space (Linda's in; -t 0 is inp).
 * Shares its body with ts-rd in cmd/cli.c; only the op differs.
 */
#include "cli.h"

int
main(int argc, char **argv)
{
    return ts_cli_query(argc, argv, 1);
}
