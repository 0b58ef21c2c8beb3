// One C++ translation unit against the installed header: it must compile
// as C++ and link with the C library (extern "C").
#include <cstdio>
#include <string>

#include <ts.h>

int
main(int argc, char **argv)
{
    char path[TS_PATH_MAX + 1], err[300];
    std::string what = argc > 1 ? argv[1] : "cxx";

    if (ts_socket_path(nullptr, path, err, sizeof err) != TS_EXIT_OK) {
        std::fprintf(stderr, "cxx: %s\n", err);
        return 2;
    }
    struct ts_conn *conn = ts_conn_open(path, err, sizeof err);
    if (conn == nullptr) {
        std::fprintf(stderr, "cxx: %s\n", err);
        return 3;
    }
    json_t *tuple = json_pack("[s, s]", "from", what.c_str());
    int rc = ts_out(conn, tuple, err, sizeof err);
    json_decref(tuple);
    ts_conn_close(conn);
    return rc;
}
