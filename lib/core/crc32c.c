/*
 * crc32c.c: CRC-32C, eight bytes a step (see crc32c.h).
 *
 * table[0] is the classic byte-at-a-time table of the reflected polynomial
 * 0x82f63b78; table[k][b] is the CRC of byte b followed by k zero bytes, so
 * eight table lookups fold eight bytes into the CRC at once.  The tables are
 * built on first use (8 KiB, a few microseconds) rather than written out.
 */
#include <stdint.h>

#include "crc32c.h"

#define POLY 0x82f63b78u

static void make_tables(void);

static uint32_t table[8][256];
static int ready;

static void
make_tables(void)
{
    uint32_t c;
    int i, k;

    for (i = 0; i < 256; i++) {
        c = (uint32_t)i;
        for (k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (i = 0; i < 256; i++)
        for (k = 1; k < 8; k++)
            table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
    ready = 1;
}

uint32_t
ts_crc32c(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint32_t lo, hi;

    if (!ready)
        make_tables();
    crc = ~crc;
    /* Byte loads keep this right on either byte order; compilers merge them. */
    while (n >= 8) {
        lo = crc ^
             ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
