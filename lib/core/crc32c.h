/*
 * crc32c.h: CRC-32C (Castagnoli), the checksum of the journal's records.
 *
 * Castagnoli's polynomial detects more of the errors that matter for short
 * records than the IEEE CRC-32 of zlib, and it is the one processors compute
 * in hardware (SSE 4.2, ARMv8), should this ever need to be faster.  This is
 * the portable table version, eight bytes a step ("slicing-by-8").
 */
#ifndef TS_CRC32C_H
#define TS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * The CRC of n bytes at p, continuing from crc: start with 0, and pass the
 * result of one call to the next to checksum data given in pieces.  The
 * result is the standard one: ts_crc32c(0, "123456789", 9) is 0xe3069283.
 */
uint32_t ts_crc32c(uint32_t crc, const void *p, size_t n);

#endif
