/*
 * ts-rd: read tuples without taking them (Linda's rd; -t 0 is rdp).
 * Shares its body with ts-in in cmd/cli.c; only the op differs.
 */
#include "cli.h"

int
main(int argc, char **argv)
{
    return ts_cli_query(argc, argv, 0);
}
