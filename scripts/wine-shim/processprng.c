/*
 * bcryptprimitives.dll for the Wine run of scripts/windows.sh only; never
 * shipped. Rust's std on Windows imports ProcessPrng from bcryptprimitives.dll
 * (present on Windows 10 and later), which Debian's Wine 8.0 lacks, so no
 * Rust .exe starts there. Wine loads a DLL that sits beside the .exe first,
 * and this one answers ProcessPrng with advapi32's RtlGenRandom
 * (SystemFunction036), which Wine has.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG length: fill larger buffers in pieces. */
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
